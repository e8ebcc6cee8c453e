# Reference numbers on the Medicaid-expansion state panel (ehec_data: 46 states x 2008-2019,
# `dins` = share of low-income adults with health insurance), as computed by the authors of
# R `did` (2.x), `fixest` and `HonestDiD` when they built HonestDiD's README. knitr cached the
# objects in the HonestDiD repository (README_cache/gfm/*.rdb, commit 71ba8a5-era master of
# asheshrambachan/HonestDiD); this script reads them with base R alone (none of those packages is
# needed) and writes the data and the numbers evalkit's tests compare against.
#
# usage: Rscript ehec_from_honestdid_readme.R /path/to/HonestDiD/README_cache/gfm
args <- commandArgs(trailingOnly = TRUE)
cache <- if (length(args)) args[1] else "README_cache/gfm"
ld <- function(stem) {
  e <- new.env()
  lazyLoad(sub("\\.rdb$", "", Sys.glob(file.path(cache, paste0(stem, "_*.rdb")))), envir = e)
  e
}
num <- function(x) trimws(formatC(x, digits = 17, format = "g"))
json_vec <- function(x) paste0("[", paste(ifelse(is.na(x), "null", num(x)), collapse = ", "), "]")
e4 <- ld("unnamed-chunk-4"); e6 <- ld("unnamed-chunk-6"); e8 <- ld("unnamed-chunk-8")
e9 <- ld("unnamed-chunk-9"); e10 <- ld("unnamed-chunk-10")

# the data (the full staggered panel); yexp2 = year Medicaid expanded (NA: not by 2019)
df <- as.data.frame(e10$df)
df <- df[order(df$stfips, df$year), c("stfips", "year", "dins", "yexp2", "W")]
write.csv(df, "ehec_data.csv", row.names = FALSE, na = "")
# the non-staggered subset with the README's simulated control (set.seed(0); rnorm)
ns <- as.data.frame(e8$df_nonstaggered)
ns <- ns[order(ns$stfips, ns$year), c("stfips", "year", "dins", "yexp2", "D", "control")]
write.csv(ns, "ehec_nonstaggered.csv", row.names = FALSE, na = "")

# R did::att_gt(yname = "dins", tname = "year", idname = "stfips", gname = "yexp2" (NA -> 3000),
#   control_group = "notyettreated", base_period = "universal"); analytic SEs from the stored
# influence functions exactly as did's getSE(bstrap = FALSE): sqrt(mean(psi^2) / n)
cs <- unclass(e9$cs_results)
inf <- as.matrix(cs$inffunc)
cell_se <- sqrt(colMeans(inf^2) / cs$n)
cell_se[cs$att == 0 & cell_se == 0] <- NA
# did::aggte(type = "dynamic", min_e = -5, max_e = 5): influence functions include the
# estimated-weights term (wif)
es <- unclass(e9$es)
ie <- es$inf.function$dynamic.inf.func.e
dyn_se <- sqrt(colMeans(ie^2) / cs$n)
dyn_se[es$att.egt == 0] <- NA
dyn_overall_se <- sqrt(mean(es$inf.function$dynamic.inf.func^2) / cs$n)

# fixest::feols(dins ~ i(year, D, ref = 2013) + control | stfips + year, cluster = "stfips")
tw <- unclass(e8$twfe_results)
V <- tw$cov.scaled

rm <- e4$delta_rm_results; sd <- e6$delta_sd_results
# two more relative-magnitude runs on the same betahat and sigma, cached by a later HonestDiD
# (after its commit e304b8e, "Reset random seed"): chunk 5, Mbar = 0, 0.5, ..., 2 for the first
# post period (chunk 4 was cached by an earlier release; its grid and draws differ slightly), and
# chunk 7, the average of the two post periods (l_vec = c(0.5, 0.5))
rm5 <- ld("unnamed-chunk-5")$delta_rm_results; rm7 <- ld("unnamed-chunk-7")$delta_rm_results_avg
rmjson <- function(x) paste0('{"Mbar": ', json_vec(x$Mbar), ', "lb": ', json_vec(x$lb), ', "ub": ', json_vec(x$ub),
                             ', "method": "', x$method[1], '"}')
out <- c(
  "{",
  '  "source": "HonestDiD README knitr cache (asheshrambachan/HonestDiD, README_cache/gfm), objects made by did, fixest and HonestDiD",',
  '  "att_gt": {',
  '    "call": "did::att_gt(yname = \\"dins\\", tname = \\"year\\", idname = \\"stfips\\", gname = \\"yexp2\\" (NA -> 3000), control_group = \\"notyettreated\\", base_period = \\"universal\\")",',
  paste0('    "group": ', json_vec(cs$group), ","),
  paste0('    "t": ', json_vec(cs$t), ","),
  paste0('    "att": ', json_vec(cs$att), ","),
  paste0('    "se_analytic": ', json_vec(cell_se), ","),
  paste0('    "n": ', cs$n),
  "  },",
  '  "aggte_dynamic": {',
  '    "call": "did::aggte(cs_results, type = \\"dynamic\\", min_e = -5, max_e = 5); SEs analytic from its influence functions",',
  paste0('    "event_time": ', json_vec(es$egt), ","),
  paste0('    "att": ', json_vec(es$att.egt), ","),
  paste0('    "se_analytic": ', json_vec(dyn_se), ","),
  paste0('    "overall_att": ', num(es$overall.att), ","),
  paste0('    "overall_se_analytic": ', num(dyn_overall_se)),
  "  },",
  '  "feols": {',
  '    "call": "fixest::feols(dins ~ i(year, D, ref = 2013) + control | stfips + year, data = ehec_nonstaggered, cluster = \\"stfips\\")",',
  paste0('    "names": [', paste0('"', names(tw$coefficients), '"', collapse = ", "), "],"),
  paste0('    "coef": ', json_vec(tw$coefficients), ","),
  paste0('    "se": ', json_vec(tw$se), ","),
  paste0('    "vcov": [', paste(apply(V, 1, json_vec), collapse = ", "), "],"),
  paste0('    "dof_K": ', attr(V, "dof.K"), ', "G": ', attr(V, "G"), ', "df_t": ', attr(V, "df.t"), ', "nobs": ', tw$nobs),
  "  },",
  '  "honestdid_twfe_no_control": {',
  '    "inputs": "betahat, sigma of fixest::feols(dins ~ i(year, D, ref = 2013) | stfips + year, cluster = \\"stfips\\") on ehec_nonstaggered (without the control); numPrePeriods = 5, numPostPeriods = 2, first post period",',
  paste0('    "relative_magnitudes": {"Mbar": ', json_vec(rm$Mbar), ', "lb": ', json_vec(rm$lb), ', "ub": ', json_vec(rm$ub), ', "method": "', rm$method[1], '"},'),
  paste0('    "smoothness": {"M": ', json_vec(sd$M), ', "lb": ', json_vec(sd$lb), ', "ub": ', json_vec(sd$ub), ', "method": "', sd$method[1], '"},'),
  paste0('    "relative_magnitudes_current": ', rmjson(rm5), ','),
  paste0('    "relative_magnitudes_average_current": ', rmjson(rm7)),
  "  }",
  "}")
writeLines(out, "ehec_reference.json")
