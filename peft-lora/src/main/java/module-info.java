/**
 * Weight-space PEFT methods of SSM blocks: LoRA on the projections (in_proj, x_proj and its dt/B/C blocks, dt_proj,
 * out_proj, head), BitFit, partial and full fine-tuning through parameter deltas, and SDLoRA (LoRA plus sparse
 * dimension tuning of A_log, B and C).
 */
module org.ssmpeft.lora {
    requires transitive org.ssmpeft.api;

    exports org.ssmpeft.lora;
    exports org.ssmpeft.bitfit;
    exports org.ssmpeft.finetune;
    exports org.ssmpeft.sdlora;

    provides org.ssmpeft.api.spi.PeftMethodProvider with org.ssmpeft.lora.LoraProvider,
            org.ssmpeft.bitfit.BitFitProvider, org.ssmpeft.finetune.PartialFineTuningProvider,
            org.ssmpeft.finetune.FullFineTuningProvider, org.ssmpeft.sdlora.SdLoraProvider;
}
