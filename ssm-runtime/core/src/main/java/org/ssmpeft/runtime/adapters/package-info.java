/**
 * Adapters as files and in service: {@link org.ssmpeft.runtime.adapters.AdapterFiles} saves and loads one adapter in
 * Hugging Face PEFT's folder layout ({@code adapter_config.json} + {@code adapter_model.safetensors}, PEFT's key
 * names for LoRA and prompt tuning); {@link org.ssmpeft.runtime.adapters.AdapterServer} serves one base model with
 * many named adapters to concurrent requests; {@link org.ssmpeft.runtime.adapters.LoraMerge} folds low-rank deltas
 * into the base weights and back out, and exports the merged model as a Hugging Face checkpoint.
 */
package org.ssmpeft.runtime.adapters;
