# Reference values from R for the research commands (packages/dosimetry-core/src/research), on R's own public
# data sets. Run at test time by packages/dosimetry-core/test/research/r-reference.test.ts:
#     Rscript scripts/reference/r_reference.R OUT_DIR
# Needs R with the survival and pROC packages (Debian: r-base-core r-cran-survival r-cran-proc; installed by
# scripts/bootstrap.mjs). Nothing it writes is committed: the data sets are exported by R itself on every run.
#
# It writes into OUT_DIR:
#   lung.csv                survival::lung as R has it (status 1 = censored, 2 = dead; sex 1/2; NA for missing)
#   lung_semicolon.csv      the same through write.csv2 (';'-separated, decimal commas: a European export)
#   veteran.csv             survival::veteran (celltype squamous/smallcell/adeno/large; trt 1/2; status 0/1)
#   colon_death.csv         survival::colon, the death records (etype 2) only
#   colon_death_pandas.csv  the same with every numeric column written as pandas writes a column with missing
#                           values: 1.0 / 0.0 / 5.0, and an empty cell for NA
#   aSAH.csv                pROC::aSAH (outcome Good/Poor, gender, age, wfns, s100b, ndka)
#   aSAH_semicolon.csv      the same through write.csv2 (s100b and ndka get decimal commas)
#   aSAH_small.csv          the first 40 aSAH rows with distinct ndka values (no ties, both groups under 50:
#                           wilcox.test's exact test)
#   reference.json          the results below, with R's and the packages' versions
#
# Fits are converged tighter than R's defaults (coxph eps 1e-13, glm epsilon 1e-14) so that the reference is the
# maximum-likelihood estimate itself, not R's stopping point; everything else is R's default unless a comment says.
suppressPackageStartupMessages({
  library(survival)
  library(pROC)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript r_reference.R OUT_DIR")
out <- args[1]
dir.create(out, showWarnings = FALSE, recursive = TRUE)
path <- function(name) file.path(out, name)

# ---------------------------------------------------------------------------------------------- JSON (no jsonlite)
num <- function(x) {
  if (length(x) == 0) return("[]")
  v <- ifelse(is.na(x) | !is.finite(x), "null", formatC(as.numeric(x), digits = 17, format = "g"))
  v <- gsub(" ", "", v)
  if (length(x) == 1) v else paste0("[", paste(v, collapse = ","), "]")
}
numArr <- function(x) paste0("[", paste(vapply(x, num, ""), collapse = ","), "]")
str1 <- function(s) paste0("\"", gsub("\"", "\\\\\"", s), "\"")
strArr <- function(s) paste0("[", paste(vapply(s, str1, ""), collapse = ","), "]")
obj <- function(...) {
  kv <- list(...)
  paste0("{", paste(paste0(str1(names(kv)), ":", unlist(kv)), collapse = ","), "}")
}
objList <- function(l) paste0("{", paste(paste0(str1(names(l)), ":", unlist(l)), collapse = ","), "}")

# ---------------------------------------------------------------------------------------------- data sets
lung <- survival::lung
veteran <- survival::veteran
colon <- survival::colon
colonDeath <- colon[colon$etype == 2, ]
data(aSAH, package = "pROC")
aSAH <- as.data.frame(aSAH)
aSAH$gos6 <- as.integer(as.character(aSAH$gos6))
aSAH$wfns <- as.integer(as.character(aSAH$wfns))
small <- aSAH[!duplicated(aSAH$ndka), ][1:40, ]
stopifnot(!anyDuplicated(small$ndka), sum(small$outcome == "Good") < 50, sum(small$outcome == "Poor") < 50)

write.csv(lung, path("lung.csv"), row.names = FALSE)
write.csv2(lung, path("lung_semicolon.csv"), row.names = FALSE)
write.csv(veteran, path("veteran.csv"), row.names = FALSE)
write.csv(colonDeath, path("colon_death.csv"), row.names = FALSE)
pandas <- colonDeath
for (c in names(pandas)) {
  if (is.numeric(pandas[[c]])) pandas[[c]] <- ifelse(is.na(pandas[[c]]), "", formatC(pandas[[c]], format = "f", digits = 1))
}
write.csv(pandas, path("colon_death_pandas.csv"), row.names = FALSE, na = "")
write.csv(aSAH, path("aSAH.csv"), row.names = FALSE)
write.csv2(aSAH, path("aSAH_semicolon.csv"), row.names = FALSE)
write.csv(small, path("aSAH_small.csv"), row.names = FALSE)

# ---------------------------------------------------------------------------------------------- Cox (Efron, R's default)
coxCtl <- coxph.control(eps = 1e-13, toler.chol = 1e-15, iter.max = 100)
coxRef <- function(formula, data) {
  fit <- coxph(formula, data = data, ties = "efron", control = coxCtl)
  s <- summary(fit)
  co <- s$coefficients
  ci <- exp(confint(fit))
  obj(
    names = strArr(rownames(co)), coef = num(co[, "coef"]), se = num(co[, "se(coef)"]), p = num(co[, "Pr(>|z|)"]),
    hrLow = num(ci[, 1]), hrHigh = num(ci[, 2]), loglik = num(fit$loglik), n = num(fit$n), nEvents = num(fit$nevent),
    lrChi2 = num(s$logtest[["test"]]), lrDf = num(s$logtest[["df"]]), lrP = num(s$logtest[["pvalue"]]),
    # summary() rounds its Wald test for printing: the unrounded statistic is fit$wald.test
    waldChi2 = num(fit$wald.test), waldDf = num(length(fit$coefficients)),
    waldP = num(pchisq(fit$wald.test, length(fit$coefficients), lower.tail = FALSE))
  )
}
cox <- list(
  lung_age = coxRef(Surv(time, status) ~ age, lung),
  lung_sex = coxRef(Surv(time, status) ~ sex, lung),
  lung_ecog = coxRef(Surv(time, status) ~ ph.ecog, lung),
  lung_multi = coxRef(Surv(time, status) ~ age + sex + ph.ecog, lung),
  lung_strata_age = coxRef(Surv(time, status) ~ age + strata(sex), lung),
  lung_strata_ecog = coxRef(Surv(time, status) ~ ph.ecog + strata(sex), lung),
  lung_strata_multi = coxRef(Surv(time, status) ~ age + ph.ecog + strata(sex), lung),
  colon_rx = coxRef(Surv(time, status) ~ relevel(factor(rx), "Obs"), colonDeath),
  colon_multi = coxRef(Surv(time, status) ~ relevel(factor(rx), "Obs") + age + nodes, colonDeath),
  colon_strata_multi = coxRef(Surv(time, status) ~ relevel(factor(rx), "Obs") + age + nodes + strata(sex, obstruct), colonDeath)
)

# ---------------------------------------------------------------------------------------------- Kaplan-Meier, log-rank
# conf.type "log-log": the engine's pointwise CI (R's default is "log"; both are exported)
kmRef <- function(formula, data, groupVar) {
  fit <- survfit(formula, data = data, conf.type = "log-log")
  fitLog <- survfit(formula, data = data, conf.type = "log")
  st <- rep(names(fit$strata), fit$strata)
  tab <- summary(fit)$table
  curves <- list()
  for (k in seq_along(fit$strata)) {
    sel <- st == names(fit$strata)[k] & fit$n.event > 0
    g <- sub(paste0("^", groupVar, "="), "", names(fit$strata)[k])
    curves[[g]] <- obj(
      time = num(fit$time[sel]), nRisk = num(fit$n.risk[sel]), nEvent = num(fit$n.event[sel]),
      surv = num(fit$surv[sel]), seSurv = num(fit$surv[sel] * fit$std.err[sel]),
      lower = num(fit$lower[sel]), upper = num(fit$upper[sel]),
      lowerLog = num(fitLog$lower[sel]), upperLog = num(fitLog$upper[sel]),
      n = num(tab[k, "n.max"]), events = num(tab[k, "events"]),
      median = num(tab[k, "median"]), medianLcl = num(tab[k, "0.95LCL"]), medianUcl = num(tab[k, "0.95UCL"])
    )
  }
  sd <- survdiff(formula, data = data)
  df <- length(sd$n) - 1
  obj(curves = objList(curves), logRankChi2 = num(sd$chisq), logRankDf = num(df), logRankP = num(pchisq(sd$chisq, df, lower.tail = FALSE)))
}
km <- list(
  veteran_celltype = kmRef(Surv(time, status) ~ celltype, veteran, "celltype"),
  lung_sex = kmRef(Surv(time, status) ~ sex, lung, "sex")
)

# ---------------------------------------------------------------------------------------------- rank tests
wilcoxRef <- function(x, y) {
  # R's own choice: exact when no ties and both samples < 50; with ties R warns that it cannot compute the exact p
  w <- suppressWarnings(wilcox.test(x, y))
  obj(w = num(w$statistic[[1]]), p = num(w$p.value), method = str1(w$method), nX = num(length(x)), nY = num(length(y)))
}
byGroup <- function(v, g, level) v[!is.na(v) & !is.na(g) & g == level]
lv <- sort(levels(veteran$celltype)) # the engine's order: alphabetical
pw <- suppressWarnings(pairwise.wilcox.test(veteran$karno, veteran$celltype, p.adjust.method = "holm"))
pwRaw <- suppressWarnings(pairwise.wilcox.test(veteran$karno, veteran$celltype, p.adjust.method = "none"))
pairs <- c()
for (i in 1:(length(lv) - 1)) for (j in (i + 1):length(lv)) {
  a <- lv[i]; b <- lv[j]
  # pairwise.wilcox.test fills the lower triangle in R's level order: look the pair up either way round
  get <- function(m) { r <- tryCatch(m[b, a], error = function(e) NA); if (is.na(r)) r <- m[a, b]; r }
  w <- suppressWarnings(wilcox.test(byGroup(veteran$karno, veteran$celltype, a), byGroup(veteran$karno, veteran$celltype, b)))
  pairs <- c(pairs, obj(a = str1(a), b = str1(b), w = num(w$statistic[[1]]), p = num(get(pwRaw$p.value)), pHolm = num(get(pw$p.value)), method = str1(w$method)))
}
kw <- kruskal.test(karno ~ celltype, data = veteran)
medians <- sapply(lv, function(l) median(byGroup(veteran$karno, veteran$celltype, l)))
groups <- obj(
  veteranKruskal = obj(h = num(kw$statistic[[1]]), df = num(kw$parameter[[1]]), p = num(kw$p.value), groups = strArr(lv), medians = num(unname(medians))),
  veteranPairwise = paste0("[", paste(pairs, collapse = ","), "]"),
  veteranTrt = wilcoxRef(byGroup(veteran$karno, veteran$trt, 1), byGroup(veteran$karno, veteran$trt, 2)),
  smallNdkaExact = wilcoxRef(byGroup(small$ndka, small$outcome, "Good"), byGroup(small$ndka, small$outcome, "Poor")),
  smallS100bTies = wilcoxRef(byGroup(small$s100b, small$outcome, "Good"), byGroup(small$s100b, small$outcome, "Poor")),
  aSAHNdka = wilcoxRef(byGroup(aSAH$ndka, aSAH$outcome, "Good"), byGroup(aSAH$ndka, aSAH$outcome, "Poor"))
)

# ---------------------------------------------------------------------------------------------- ROC (pROC)
rocRef <- function(predictor) {
  r <- roc(aSAH$outcome, aSAH[[predictor]], levels = c("Good", "Poor"), direction = "<", quiet = TRUE)
  ci <- ci.auc(r, method = "delong")
  best <- coords(r, "best", best.method = "youden", ret = c("threshold", "sensitivity", "specificity"), transpose = FALSE)
  obj(
    auc = num(as.numeric(auc(r))), ciLow = num(ci[1]), ciHigh = num(ci[3]), se = num(sqrt(var(r, method = "delong"))),
    bestThreshold = num(best$threshold), bestSensitivity = num(best$sensitivity), bestSpecificity = num(best$specificity),
    controls = num(sum(aSAH$outcome == "Good")), cases = num(sum(aSAH$outcome == "Poor"))
  )
}
rocs <- list(s100b = rocRef("s100b"), ndka = rocRef("ndka"), wfns = rocRef("wfns"), age = rocRef("age"))

# ---------------------------------------------------------------------------------------------- logistic (glm)
glmCtl <- glm.control(epsilon = 1e-14, maxit = 100)
glmRef <- function(formula, data) {
  # glm's standard errors come from the weights of its last IRLS step, i.e. at the coefficients of the step before
  # (about sqrt(epsilon) away); refitting from the converged coefficients puts them at the MLE itself
  fit0 <- glm(formula, data = data, family = binomial, control = glmCtl)
  fit <- glm(formula, data = data, family = binomial, control = glmCtl, start = coef(fit0))
  co <- summary(fit)$coefficients
  ci <- confint.default(fit) # Wald intervals, as the engine's
  obj(
    names = strArr(rownames(co)), coef = num(co[, 1]), se = num(co[, 2]), p = num(co[, 4]),
    ciLow = num(ci[, 1]), ciHigh = num(ci[, 2]), loglik = num(as.numeric(logLik(fit))),
    nullLoglik = num(-fit$null.deviance / 2), n = num(nobs(fit))
  )
}
aSAH$poor <- as.integer(aSAH$outcome == "Poor")
logistic <- list(
  aSAH_s100b = glmRef(poor ~ s100b, aSAH),
  aSAH_s100b_age = glmRef(poor ~ s100b + age, aSAH),
  aSAH_s100b_gender = glmRef(poor ~ s100b + relevel(gender, "Female"), aSAH),
  colon_nodes_age = glmRef(status ~ nodes + age, colonDeath)
)

versions <- obj(R = str1(R.version.string), survival = str1(as.character(packageVersion("survival"))), pROC = str1(as.character(packageVersion("pROC"))))
json <- obj(versions = versions, cox = objList(cox), km = objList(km), groups = groups, roc = objList(rocs), logistic = objList(logistic))
writeLines(json, path("reference.json"))
