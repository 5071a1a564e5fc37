"""Parameters of the synthetic borough: rates per month unless a name says otherwise.

The defaults were calibrated by hand against a named set of published figures, with
others held out as a check (``features/data/simulator_calibration.md``, scored by
:mod:`stratify.features.simulate.calibrate`); they are fixed numbers here, never fitted
at run time. No outcome rate is set per IMD decile, ethnic group or plan length: the mechanisms
and their sources are in ``features/data/simulator_mechanisms.md``.
``tests/features/simulate/test_realism.py`` holds them to both at three seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Latent conditions. The first eight belong to the household, the rest to the child.
HOUSEHOLD_LATENTS = ("da", "mh", "alc", "drg", "neg", "phy", "oa_sm", "house")
CHILD_LATENTS = ("sab", "cmh", "teen", "ld", "incident")
LATENTS = HOUSEHOLD_LATENTS + CHILD_LATENTS

#: Referral source groups, in the order of published table c1.
SOURCES = (
    "police",
    "schools",
    "health",
    "la_services",
    "individual",
    "other",
    "other_legal",
    "education",
    "anonymous",
    "unknown",
    "housing",
)

ETHNIC_GROUPS = ("White", "Mixed", "Asian", "Black", "Other")


def _aff(**kw: float) -> dict[str, float]:
    return kw


@dataclass(frozen=True)
class SimParams:
    """Every rate and weight of the simulation (see the module docstring)."""

    # --- geography and demography -------------------------------------------------
    children_per_lsoa: int = 420
    locality_deprivation: tuple[float, float, float] = (0.9, 0.5, -0.6)  # North, Central, South
    #: share of the borough's LSOAs in IMD deciles 1 (most deprived) to 10: a deprived city
    imd_decile_shares: tuple[float, ...] = (
        0.22,
        0.16,
        0.13,
        0.11,
        0.09,
        0.08,
        0.07,
        0.06,
        0.04,
        0.04,
    )
    ethnic_mix_least: tuple[float, ...] = (0.78, 0.06, 0.09, 0.04, 0.03)
    ethnic_mix_most: tuple[float, ...] = (0.48, 0.11, 0.22, 0.14, 0.05)
    children_per_household: tuple[float, ...] = (0.42, 0.35, 0.15, 0.06, 0.02)
    single_parent_least: float = 0.15
    single_parent_most: float = 0.40
    other_adult_share: float = 0.08
    disability_share: float = 0.05
    birth_rate: float = 0.0040  # per household with a parent under 45 and a child under 10
    partner_leaves: float = 0.0035
    partner_joins: float = 0.0060
    other_adult_joins: float = 0.0012
    other_adult_leaves: float = 0.02
    move_rate: float = 0.006
    migrate_out: float = 0.0022

    # --- latent adversity: prevalence target (households), mean duration (months) --
    prevalence: dict[str, float] = field(
        default_factory=lambda: dict(
            da=0.0295,
            mh=0.069,
            alc=0.021,
            drg=0.02,
            neg=0.02,
            phy=0.0095,
            oa_sm=0.0082,
            house=0.015,
        )
    )
    duration: dict[str, float] = field(
        default_factory=lambda: dict(
            da=30, mh=34, alc=34, drg=34, neg=28, phy=20, oa_sm=18, house=8
        )
    )
    frailty_sigma: float = 1.3
    frailty_deprivation: float = 0.65  # log-frailty shift between least and most deprived
    frailty_power: dict[str, float] = field(
        default_factory=lambda: dict(
            da=1.0, mh=0.6, alc=0.9, drg=1.1, neg=1.3, phy=1.0, oa_sm=0.9, house=1.0
        )
    )
    #: log onset / duration multiplier of where a family lives now, per unit of deprivation
    #: (-1 least to 1 most deprived): poverty starts and prolongs adversity
    onset_deprivation: float = 0.1
    persistence_deprivation: float = 0.05
    #: log multiplier of a child's need per unit of deprivation: informal support
    #: (family, money, space) buffers the same adversity more in better-off areas
    informal_support: float = 0.1
    #: log buffer of a child's need by ethnic group: extended family close by (Bywaters
    #: et al. 2017 find Asian children's low rates persist after deprivation is allowed for)
    ethnic_support: dict[str, float] = field(
        default_factory=lambda: dict(White=0.0, Mixed=-0.1, Asian=0.4, Black=0.0, Other=0.1)
    )
    #: share of moves within the same or a neighbouring IMD decile (the rest go anywhere)
    local_moves: float = 0.85
    co_occurrence: float = 1.5  # onset multiplier per other adversity present
    new_adult_risk: float = 2.5  # onset multiplier for DA/drugs/alcohol after a new adult joins
    support_remission: float = 1.8  # remission multiplier while a plan or effective EH is open
    # child-level: prevalence among eligible children, duration, minimum age (years)
    child_prevalence: dict[str, float] = field(
        default_factory=lambda: dict(sab=0.0085, cmh=0.095, teen=0.05, ld=0.035)
    )
    child_duration: dict[str, float] = field(default_factory=lambda: dict(sab=8, cmh=16, teen=14))
    child_min_age: dict[str, int] = field(default_factory=lambda: dict(sab=2, cmh=8, teen=11))

    # --- true need ---------------------------------------------------------------
    need_weights: dict[str, float] = field(
        default_factory=lambda: dict(
            da=1.0,
            mh=0.6,
            alc=0.7,
            drg=0.9,
            neg=1.4,
            phy=1.5,
            oa_sm=0.4,
            house=0.4,
            sab=1.8,
            cmh=0.6,
            teen=0.9,
            ld=0.3,
            incident=0.0,
        )
    )
    need_trio_bonus: float = 0.5
    need_infant_bonus: float = 0.3
    in_need_threshold: float = 1.0
    incident_rate: float = 0.012  # monthly harm incident hazard per unit need squared

    # --- detection and referral -----------------------------------------------------
    deprivation_bias: float = 0.35  # log detection multiplier, most vs middle deprivation
    ethnic_bias: dict[str, float] = field(
        default_factory=lambda: dict(White=0.0, Mixed=0.25, Asian=-1.1, Black=0.25, Other=0.0)
    )
    #: household-level referral affinities by source (household latents)
    hh_affinity: dict[str, dict[str, float]] = field(
        default_factory=lambda: dict(
            police=_aff(da=1.0, drg=0.3, alc=0.2, phy=0.3, neg=0.1),
            schools=_aff(neg=0.6, phy=0.5, da=0.2),
            health=_aff(mh=0.5, alc=0.3, drg=0.4, neg=0.3, phy=0.3),
            la_services=_aff(mh=0.3, alc=0.2, drg=0.3, oa_sm=0.3),
            individual=_aff(da=0.3, neg=0.3, phy=0.2, alc=0.2, drg=0.2),
            other=_aff(neg=0.2, mh=0.2, house=0.3, da=0.1),
            other_legal=_aff(da=0.4, drg=0.3, oa_sm=0.2),
            education=_aff(neg=0.2),
            anonymous=_aff(neg=0.3, da=0.1, alc=0.1, drg=0.1),
            unknown=_aff(da=0.1, neg=0.1, mh=0.1),
            housing=_aff(house=1.0, da=0.1, neg=0.1),
        )
    )
    #: child-level referral affinities by source (child latents)
    child_affinity: dict[str, dict[str, float]] = field(
        default_factory=lambda: dict(
            police=_aff(teen=0.6, incident=0.5, sab=0.2),
            schools=_aff(sab=0.5, cmh=0.5, teen=0.4, ld=0.2),
            health=_aff(incident=0.8, cmh=0.4, sab=0.2),
            la_services=_aff(teen=0.3, ld=0.3),
            individual=_aff(sab=0.2, teen=0.2),
            other=_aff(cmh=0.1),
            other_legal=_aff(teen=0.2),
            education=_aff(ld=0.5, teen=0.1),
            anonymous=_aff(),
            unknown=_aff(teen=0.05),
            housing=_aff(),
        )
    )
    source_weight: dict[str, float] = field(
        default_factory=lambda: dict(
            police=0.00948,
            schools=0.00551,
            health=0.00408,
            la_services=0.00661,
            individual=0.00573,
            other=0.00397,
            other_legal=0.00319,
            education=0.00232,
            anonymous=0.00353,
            unknown=0.00165,
            housing=0.00232,
        )
    )
    #: referrals per child per month regardless of need (the "false alarm" share)
    false_alarm: dict[str, float] = field(
        default_factory=lambda: dict(
            police=6e-5,
            schools=5e-5,
            health=4e-5,
            la_services=2.5e-5,
            individual=2e-5,
            other=1e-5,
            other_legal=8.5e-6,
            education=5e-6,
            anonymous=7e-6,
            unknown=5e-6,
            housing=3.5e-6,
        )
    )
    #: how visible each condition is to agencies (multiplies every source's affinity)
    visibility: dict[str, float] = field(
        default_factory=lambda: dict(
            da=5.0,
            mh=3.0,
            alc=1.4,
            drg=1.4,
            neg=2.0,
            phy=4.5,
            oa_sm=2.0,
            house=0.5,
            sab=6.0,
            cmh=2.2,
            teen=1.6,
            ld=1.0,
            incident=1.0,
        )
    )
    concern_stacking: float = 0.8  # referral hazard x (1 + this x (conditions present - 1))
    known_boost: float = 2.6  # referral hazard multiplier within 12 months of a closed episode
    sibling_referral: float = 0.8  # a household concern refers each child with this chance

    #: chance a factor is recorded although the condition is not present now (past
    #: concerns, worries not substantiated): recording noise
    factor_noise: dict[str, float] = field(
        default_factory=lambda: {
            "3B": 0.05,
            "4B": 0.05,
            "1B": 0.025,
            "2B": 0.02,
            "16A": 0.03,
            "18B": 0.015,
            "18C": 0.02,
            "19B": 0.005,
            "19C": 0.01,
            "3A": 0.02,
            "3C": 0.025,
            "4A": 0.04,
            "4C": 0.03,
            "5A": 0.02,
            "14A": 0.02,
            "2A": 0.01,
            "2C": 0.01,
            "17A": 0.04,
        }
    )
    factor_history: float = 0.6  # recording chance of a recent (not current) condition, relative
    factor_history_months: int = 24
    cp_substance_neglect: float = 0.35  # chance parental substance misuse is categorised neglect

    # --- the statutory pathway ------------------------------------------------------
    assessment_noise: float = 1.0
    nfa_intercept: float = -2.0  # logit of NFA at observed need 0
    nfa_slope: float = -2.2
    not_in_need_below: float = 0.65  # assessed need under which a child is found not in need
    step_down_to_eh: float = 0.40  # share of not-in-need closures referred to early help (RC9)
    s47_above: float = 2.15  # assessed need over which a section 47 enquiry starts
    s47_on_incident: float = 0.45
    icpc_intercept: float = -3.6
    icpc_slope: float = 1.1
    cp_after_icpc: float = 0.92
    cin_end: float = 1 / 8.5
    cin_s47_on_incident: float = 0.25
    #: review conferences: the first falls in this month of the plan or the next (within
    #: three months of the initial conference), then one every cp_review_every months
    cp_first_review: int = 2
    cp_review_every: int = 6
    cp_end_below: float = 1.2  # assessed need under which a review ends the plan
    cp_first_review_below: float = 0.6  # the same at the first review (change must last)
    cp_long_months: int = 26  # a plan this old is ended at review with cp_long_end chance
    cp_long_end: float = 0.25
    cp_care_hazard: float = 0.06  # monthly chance a child whose need stays grave enters care
    cp_support_remission: float = 5.0  # remission multiplier while a child is on a CP plan
    cp_lasting_change: float = 0.82  # frailty multiplier of a family whose plan ended
    cp_to_cin: float = 0.6  # share of ended plans stepped down to a child in need plan
    lac_from_s47: float = 0.30
    lac_teen_s20: float = 0.0060  # monthly section 20 accommodation of a teen with need
    lac_short_end: float = 1 / 5
    lac_long_end: float = 0.018
    lac_long_share: float = 0.75

    # --- early help ---------------------------------------------------------------
    eh_rate: float = 0.010  # per household per unit of household need per month
    eh_end: float = 1 / 6
    eh_effective: float = 0.55
    eh_disengage: float = 0.25
    eh_step_up: float = 0.25  # chance an ineffective episode with high need is stepped up
    eh_clear: float = 0.5  # chance each adversity clears when an effective episode ends
