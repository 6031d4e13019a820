# R's lm() on the CSVs in test/data/edges, recorded in test/data/edges/r-lm.json, which
# test/edges.test.ts compares ols with. Run from the repository root:
#
#   Rscript test/data/edges/r-lm.R > test/data/edges/r-lm.json
#
# Base R only (no packages). Each number is printed with sprintf("%.17g"), which gives back the
# same double; a value that is not a finite number is written as a JSON string: "Inf", "-Inf",
# "NaN", or "NA" (a coefficient lm leaves out as aliased). Warnings from lm() and summary() are
# recorded with their text. "read" is each column as read.csv read it, at 17 digits, so that the
# test can confirm R solved the same doubles as ols (JavaScript's Number() of each cell).
files <- c("bigx", "bigy", "mix", "tinyy", "denorm", "perfect", "consty")

num <- function(x) {
  vapply(x, function(v) {
    if (is.na(v) && !is.nan(v)) "\"NA\"" else if (is.nan(v)) "\"NaN\"" else if (v == Inf) "\"Inf\""
    else if (v == -Inf) "\"-Inf\"" else sprintf("%.17g", v)
  }, "")
}
arr <- function(x) paste0("[", paste(num(x), collapse = ", "), "]")
str <- function(s) paste0("\"", gsub("\"", "\\\\\"", s), "\"")
strs <- function(s) paste0("[", paste(vapply(s, str, ""), collapse = ", "), "]")

# Runs expr, collecting its warnings' messages instead of printing them.
collect <- function(expr) {
  warned <- character(0)
  value <- withCallingHandlers(expr, warning = function(w) {
    warned <<- c(warned, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(value = value, warnings = warned)
}

entries <- character(0)
for (f in files) {
  path <- sprintf("test/data/edges/%s.csv", f)
  call <- sprintf("summary(lm(y ~ a + b, data = read.csv(\"%s\")))", path)
  d <- read.csv(path)
  stopifnot(identical(names(d), c("y", "a", "b")))
  fitted <- collect(lm(y ~ a + b, data = d))
  fit <- fitted$value
  summed <- collect(summary(fit))
  s <- summed$value
  coef <- coef(fit)
  se <- rep(NA_real_, length(coef))
  # By the rows of summary's table (not !s$aliased: summary.lm counts a NaN coefficient as aliased).
  se[match(rownames(s$coefficients), names(coef))] <- s$coefficients[, "Std. Error"]
  entries <- c(entries, paste0(
    "    ", str(f), ": {\n",
    "      \"call\": ", str(call), ",\n",
    "      \"terms\": ", strs(names(coef)), ",\n",
    "      \"rank\": ", fit$rank, ",\n",
    "      \"coef\": ", arr(coef), ",\n",
    "      \"se\": ", arr(se), ",\n",
    "      \"sigma\": ", num(s$sigma), ",\n",
    "      \"r2\": ", num(s$r.squared), ",\n",
    "      \"adjR2\": ", num(s$adj.r.squared), ",\n",
    "      \"warnings\": ", strs(c(fitted$warnings, summed$warnings)), ",\n",
    "      \"read\": { \"y\": ", arr(d$y), ",\n",
    "                \"a\": ", arr(d$a), ",\n",
    "                \"b\": ", arr(d$b), " }\n",
    "    }"))
}

cat("{\n")
cat("  \"source\": ", str(paste0("Rscript test/data/edges/r-lm.R > test/data/edges/r-lm.json: R's lm() (LINPACK dqrdc2 ",
  "Householder QR in float64 on the data as read, no scaling) and summary.lm(), each number with sprintf(\"%.17g\")")), ",\n", sep = "")
cat("  \"R\": ", str(R.version.string), ",\n", sep = "")
cat("  \"platform\": ", str(R.version$platform), ",\n", sep = "")
cat("  \"BLAS\": ", str(unname(extSoftVersion()["BLAS"])), ",\n", sep = "")
cat("  \"LAPACK\": ", str(La_version()), ",\n", sep = "")
cat("  \"files\": {\n", paste(entries, collapse = ",\n"), "\n  }\n}\n", sep = "")
