/**
 * Text to token ids and back: the {@link org.ssmpeft.runtime.tokenize.Tokenizer} interface, a built-in byte-level
 * tokenizer ({@link org.ssmpeft.runtime.tokenize.ByteTokenizer}), Hugging Face {@code tokenizer.json} files read
 * through DJL's tokenizers from a local path only ({@link org.ssmpeft.runtime.tokenize.HfTokenizer}), and the choice
 * between them for a model folder ({@link org.ssmpeft.runtime.tokenize.Tokenizers}).
 */
package org.ssmpeft.runtime.tokenize;
