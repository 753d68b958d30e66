# pROC's own computation of AUC + DeLong CI at the benchmark's size, timed inside R (the
# CSV reading is excluded, which favours pROC). Usage: Rscript proc_bench.R DIR
suppressMessages(library(pROC))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
cases <- read.csv(file.path(dir, "cases.csv"))
preds <- read.csv(file.path(dir, "predictions.csv"))
d <- merge(cases, preds, by = "case_id")
t <- system.time({
  r <- roc(d$label, d$score, levels = c(0, 1), direction = "<", quiet = TRUE)
  ci <- ci.auc(r, method = "delong", conf.level = 0.95)
})
cat(sprintf('{"tool": "pROC %s", "n": %d, "auc": %.15f, "ci_low": %.15f, "ci_high": %.15f, "seconds": %.3f}\n',
            packageVersion("pROC"), nrow(d), as.numeric(auc(r)), ci[1], ci[3], t[["elapsed"]]))
