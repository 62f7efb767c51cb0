/** LoRA on the projections of SSM blocks (in_proj, x_proj and its dt/B/C blocks, dt_proj, out_proj, head). */
module org.ssmpeft.lora {
    requires transitive org.ssmpeft.api;

    exports org.ssmpeft.lora;

    provides org.ssmpeft.api.spi.PeftMethodProvider with org.ssmpeft.lora.LoraProvider;
}
