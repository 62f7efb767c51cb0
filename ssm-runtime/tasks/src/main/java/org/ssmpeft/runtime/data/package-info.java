/**
 * Task data for fine-tuning, read from the benchmarks' published files and encoded as the paper code does
 * (paper.md §8-§9).
 *
 * <ul>
 *   <li>{@link org.ssmpeft.runtime.data.Example}: one input/output pair (plus references and fields such as
 *       {@code db_id}); {@link org.ssmpeft.runtime.data.Dataset}: examples with their
 *       {@link org.ssmpeft.runtime.data.PromptFormat}.</li>
 *   <li>Loaders: {@link org.ssmpeft.runtime.data.SpiderData} (questions JSON, {@code tables.json}, SQLite databases),
 *       {@link org.ssmpeft.runtime.data.SamsumData}, {@link org.ssmpeft.runtime.data.DartData},
 *       {@link org.ssmpeft.runtime.data.GlueData} ({@link org.ssmpeft.runtime.data.GlueTask}: per-task TSV),
 *       {@link org.ssmpeft.runtime.data.JsonlData}; {@link org.ssmpeft.runtime.data.Tasks} by name. Malformed files
 *       fail with a {@link org.ssmpeft.runtime.data.DataFormatException} naming the file, the record or line and the
 *       field expected.</li>
 *   <li>Encoding: {@link org.ssmpeft.runtime.data.Encoder} (tokens and labels, -100 on the input part, labels aligned
 *       with tokens as {@link org.ssmpeft.runtime.backend.SsmModel} expects), {@link org.ssmpeft.runtime.data.Collator}
 *       (padding), {@link org.ssmpeft.runtime.data.Batches} (seeded, exactly resumable epoch order).</li>
 * </ul>
 */
package org.ssmpeft.runtime.data;
