"""The standard-error conventions and reference distributions evalkit uses, in one place.

Every estimate records ``se_convention``, ``reference_distribution`` and ``convention_id`` in its
``details`` (the design modules set them; :func:`fill` supplies them from this table for the
few estimates that do not). ``docs/conventions.md`` prints the same table with the Stata and R
equivalent of each convention and the alternatives, and a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.spec.designs import REGISTRY


@dataclass(frozen=True)
class Convention:
    id: str
    se: str  # the SE convention in words
    distribution: str  # the reference distribution of p-values and CIs
    used_for: str
    stata: str
    r: str
    alternatives: str  # and how to request them


CONVENTIONS = (
    Convention("cr1_fixest_t", "CR1: G/(G-1) x (N-1)/(N-K), K counting the fixed effects not nested in the clusters",
               "t(G-1)", "DiD two-way fixed effects ATT and event study",
               "reghdfe y d, absorb(unit period) vce(cluster c); xtreg y d i.period, fe vce(cluster c)",
               "fixest::feols(y ~ d | unit + period, cluster = ~c)",
               "wild cluster restricted bootstrap (reported beside it automatically under 30 clusters); CR2 with "
               "Satterthwaite df: clubSandwich::coef_test(fit, vcov = \"CR2\", test = \"Satterthwaite\") in R; "
               "normal reference: fixest ssc(t.df = \"conventional\")"),
    Convention("cr1_fixest_z", "CR1 on the log scale, fixest's factor (as cr1_fixest_t)", "normal",
               "DiD Poisson two-way fixed effects (rate ratio)", "ppmlhdfe y d, absorb(unit period) vce(cluster c)",
               "fixest::fepois(y ~ d | unit + period, cluster = ~c)",
               "t(G-1) reference: compute from the recorded SE; CR2 is not defined for PPML in common software"),
    Convention("did_influence_function_z", "influence function summed within clusters, no small-sample factor; "
               "aggregates include the estimated cohort weights' influence function",
               "normal, pointwise", "DiD group-time ATT(g,t), its simple/group/dynamic aggregates",
               "csdid y, ivar(unit) time(period) gvar(g) notyet (analytic SEs)",
               "did::att_gt(..., bstrap = FALSE, cband = FALSE); did::aggte(type = \"simple\")",
               "R did's defaults also differ in: base_period = \"varying\" (plan: did.base_period: varying), "
               "multiplier-bootstrap SEs and uniform bands (bstrap = TRUE, cband = TRUE; not in evalkit)"),
    Convention("cr1_t", "CR1: G/(G-1) x (N-1)/(N-K)", "t(G-1)",
               "cluster-randomised trial ITT; pre/post change clustered (e.g. pupils in schools)",
               "regress y arm, vce(cluster c)", "lmtest::coeftest(lm, vcov = sandwich::vcovCL(lm, cluster = ~c, "
               "type = \"HC1\"), df = G - 1)", "wild cluster restricted bootstrap (reported beside it "
               "automatically under 30 clusters); CR2/Satterthwaite: clubSandwich::coef_test in R"),
    Convention("hc2_t", "HC2 (for a two-arm difference in means: Welch's SE)", "t(N-K)",
               "individually randomised trial ITT", "regress y arm, vce(hc2)",
               "estimatr::lm_robust(y ~ arm, se_type = \"HC2\")",
               "HC1 (Stata's vce(robust)): sandwich::vcovHC(type = \"HC1\"); HC0: type = \"HC0\""),
    Convention("cr1_glm_z", "CR1 on the log scale: G/(G-1) (no (N-1)/(N-K) for a GLM)", "normal",
               "trial risk and rate ratios with clusters (log-link Poisson, Zou & Donner 2013)",
               "glm y arm, family(poisson) link(log) vce(cluster c) eform",
               "sandwich::vcovCL(glm(y ~ arm, family = poisson), cluster = ~c) (type HC0); lmtest::coefci",
               "t(G-1) reference: compute from the recorded SE"),
    Convention("hc0_z", "HC0 on the log scale (modified Poisson, Zou 2004)", "normal",
               "trial risk and rate ratios without clusters", "glm y arm, family(poisson) link(log) vce(robust)",
               "sandwich::sandwich(glm(y ~ arm, family = poisson))",
               "Stata's vce(robust) adds n/(n-1): sandwich::vcovHC(type = \"HC1\")"),
    Convention("hc1_pair_t", "CR1 by matched pair (two-way by pair and control unit with replacement): "
               "G/(G-1) x (N-1)/(N-K)", "t(N-K)", "matched comparison and weighting effects (WLS on the "
               "matched sample)", "regress y treat [pw = w], vce(cluster subclass)",
               "lmtest::coeftest(lm(y ~ treat, weights = w), vcov = sandwich::vcovCL(cluster = ~subclass, "
               "type = \"HC1\"))", "MatchIt's vignette (marginaleffects::avg_comparisons(vcov = ~subclass)) "
               "uses a normal reference: compute from the recorded SE"),
    Convention("paired_t", "SD of the paired differences / sqrt(n)", "t(n-1)", "pre/post mean change",
               "ttest post == pre", "t.test(post, pre, paired = TRUE)",
               "Wilcoxon signed-rank (in the estimate's details): wilcox.test(post, pre, paired = TRUE)"),
    Convention("newcombe_mcnemar", "Newcombe (1998) method 10 interval; McNemar test (exact below 25 "
               "discordant pairs)", "score (Wilson) limits; binomial / chi-square(1)",
               "pre/post change in a proportion", "mcc / symmetry", "mcnemar.test(); exact2x2::mcnemar.exact()",
               "Wald interval: the recorded std_error +- 1.96 SE"),
    Convention("gee_sandwich_z", "Poisson GEE sandwich of log(total follow-up / total baseline), G/(G-1)",
               "normal", "pre/post rate ratio of counts", "poisson y post, vce(cluster id) irr",
               "sandwich::vcovCL(glm(y ~ post, family = poisson), cluster = ~id)", "-"),
    Convention("model_z", "model-based (inverse information), Poisson variance", "normal",
               "interrupted time series, Poisson", "glm y ..., family(poisson) exposure(pop)",
               "glm(y ~ ..., family = poisson, offset = log(pop))",
               "quasi-Poisson or negative binomial (plan: time_series.model)"),
    Convention("model_scaled_t", "model-based x Pearson scale (never below 1 for NB2)", "t(N-K)",
               "interrupted time series, quasi-Poisson and negative binomial",
               "glm y ..., family(poisson) scale(x2); nbreg", "glm(family = quasipoisson); MASS::glm.nb",
               "Newey-West (HAC) errors: sandwich::NeweyWest (not in evalkit)"),
    Convention("wilson_score", "Wilson score (proportions), exact Poisson (rates), t (means)",
               "score / exact", "feasibility metrics", "ci proportions x, wilson", "prop.test(correct = FALSE)",
               "Clopper-Pearson exact: binom.test()"),
    Convention("wcr_bootstrap", "wild cluster restricted bootstrap, CR1 t statistic", "bootstrap (symmetric)",
               "beside cr1_fixest_t and cr1_t under 30 clusters (Webb weights under 12)",
               "boottest d, weighttype(webb) reps(9999)", "fwildclusterboot::boottest(fit, param = \"d\", "
               "clustid = ~c, B = 9999, type = \"webb\")", "-"),
    Convention("rosenbaum_normal", "Rosenbaum bounds on the signed-rank (pairs) or aligned-rank / sign-score "
               "(matched sets) statistic", "normal approximation (exact for binary sets)",
               "matched comparison sensitivity (Gamma)", "rbounds (Stata: rbounds)",
               "rbounds::psens / sensitivitymw::senmw", "exact bounds for pairs: sensitivitymw "
               "or rbounds::psens(exact = TRUE)"),
    Convention("placebo_permutation", "none: inference by placebo in space (each donor area in turn as if "
               "treated)", "exact rank among the treated area and its J donors (p = rank / (J + 1)); intervals "
               "invert the permutation test of a shift, level 1 - 2m/(J + 1)",
               "comparison areas: synthetic control events prevented and rate gap; area DiD with one treated area",
               "synth_runner (Galiani & Quistorff 2017)", "Synth::synth with a loop over donors; "
               "SCtools::generate.placebos, mspe.test",
               "area DiD: CR1 t(G-1) and the wild cluster restricted bootstrap are in the estimate's details "
               "(unreliable with one treated area, MacKinnon & Webb 2017); conformal intervals "
               "(Chernozhukov, Wuethrich & Zhu 2021) are not in evalkit"),
    Convention("reported", "as reported by the study", "as reported", "external studies", "-", "-", "-"),
)
BY_ID = {c.id: c for c in CONVENTIONS}

# what an estimate without an explicit convention gets: its design's registry entry says, by estimand
# (evalkit.spec.designs.DesignEntry.conventions); an estimate a study reported is "reported" whatever its design
_BY_DESIGN = {d.value: e for d, e in REGISTRY.items()}


def tag(convention_id: str, distribution: str | None = None, se: str | None = None) -> dict:
    """The fields an estimate records (``distribution``/``se`` override the table's words, e.g.
    to give the degrees of freedom)."""
    c = BY_ID[convention_id]
    return {"se_convention": se or c.se, "reference_distribution": distribution or c.distribution,
            "convention_id": c.id}


def fill(estimate):
    """The estimate with its convention recorded (from its design's registry entry when its module did not)."""
    from dataclasses import replace

    if estimate.details and "convention_id" in estimate.details:
        return estimate
    design = _BY_DESIGN.get(estimate.design)
    key = "reported" if estimate.estimand == "reported" else design and (
        design.conventions.get(estimate.estimand) or design.conventions.get(None))
    if key is None:
        return estimate
    if design is not None and design.clustered_convention and "cluster-robust (CR1)" in estimate.method:
        key = design.clustered_convention
    details = dict(estimate.details or {})
    df = details.get("df")
    if key == "cr1_t" and details.get("clusters"):
        df = int(details["clusters"]) - 1
    elif key == "paired_t" and isinstance(details.get("paired_t"), dict):
        df = details["paired_t"].get("df")
    dist = None
    if key in ("hc1_pair_t", "cr1_t", "paired_t") and df is not None:
        dist = {"hc1_pair_t": f"t(N-K) = t({df})", "cr1_t": f"t(G-1) = t({df})", "paired_t": f"t(n-1) = t({df})"}[key]
    details.update(tag(key, dist))
    return replace(estimate, details=details)


def in_words(details) -> str | None:
    """One sentence for a report's methods section, from an estimate's recorded fields."""
    se, dist = details.get("se_convention"), details.get("reference_distribution")
    if not se:
        return None
    return f"standard errors {se}; p-values and confidence intervals from {dist}"


def markdown_table() -> str:
    """The table of docs/conventions.md (a test checks the page holds exactly this)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = ["| evalkit convention (`convention_id`) | standard error | reference distribution | used for | Stata | R "
            "| alternatives, and how to get them |", "|---|---|---|---|---|---|---|"]
    for c in CONVENTIONS:
        rows.append(f"| `{c.id}` | {cell(c.se)} | {cell(c.distribution)} | {cell(c.used_for)} | `{cell(c.stata)}` | "
                    f"`{cell(c.r)}` | {cell(c.alternatives)} |")
    return "\n".join(rows) + "\n"
