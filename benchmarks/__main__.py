"""``python -m benchmarks``: run every benchmark and print its figures."""

from benchmarks import (
    bench_cin_xml,
    bench_drift,
    bench_evaluate,
    bench_features,
    bench_outreach,
    bench_serve,
    bench_simulate,
    bench_train,
)

bench_simulate.main()
bench_cin_xml.main()
bench_features.main()
bench_evaluate.main()
bench_train.main()
bench_drift.main()
bench_serve.main()
bench_outreach.main()
