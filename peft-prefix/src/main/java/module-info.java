/** Prompt-based PEFT methods: prompt tuning (virtual tokens at the embedding) and prefix tuning (per layer). */
module org.ssmpeft.prefix {
    requires transitive org.ssmpeft.api;

    exports org.ssmpeft.prefix;

    provides org.ssmpeft.api.spi.PeftMethodProvider with
            org.ssmpeft.prefix.PromptProvider,
            org.ssmpeft.prefix.PrefixProvider;
}
