package org.ssmpeft.lora;

import org.ssmpeft.api.config.ConfigEnum;

/**
 * How LoRA's factors start, Hugging Face PEFT's {@code init_lora_weights}: {@code default} (PEFT's {@code true}), A
 * Kaiming-uniform and B zero; {@code pissa} (PiSSA, Meng et al. 2024), A and B the principal factors of the base rows'
 * SVD and the delta taken relative to them, so the model still starts as the base model.
 */
public enum LoraInit implements ConfigEnum {
    DEFAULT("default"),
    PISSA("pissa");

    private final String configName;

    LoraInit(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
