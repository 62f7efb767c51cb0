/**
 * Evaluation metrics of the paper's tasks (paper.md §10), each a small class that states its formula and the reference
 * tool it reproduces: {@link org.ssmpeft.runtime.metrics.ExactMatch},
 * {@link org.ssmpeft.runtime.metrics.Classification}
 * (GLUE: accuracy, F1, Matthews correlation), {@link org.ssmpeft.runtime.metrics.Rouge} (SAMSum, Google's
 * {@code rouge_score}), {@link org.ssmpeft.runtime.metrics.Bleu} (DART, sacreBLEU), and
 * {@link org.ssmpeft.runtime.metrics.SqlExecution} (Spider execution accuracy on a real SQLite database),
 * {@link org.ssmpeft.runtime.metrics.SpiderExactSetMatch} (Spider's official exact-set match without values) and
 * {@link org.ssmpeft.runtime.metrics.Correlation} (GLUE STS-B: Pearson, Spearman). Every metric
 * can hand its numbers to a training loop as {@link org.ssmpeft.runtime.metrics.Score}s: a name, a value and whether
 * higher is better.
 *
 * <p>Inputs are parallel lists (one prediction per example); lists of different sizes are an
 * {@link java.lang.IllegalArgumentException}. An empty corpus scores 0 (no examples, no credit), as sacreBLEU does.
 */
package org.ssmpeft.runtime.metrics;
