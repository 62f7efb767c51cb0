/** State-based PEFT methods: State-offset Tuning (variants h and y), initial-state tuning and additional-scan. */
module org.ssmpeft.stateoffset {
    requires transitive org.ssmpeft.api;

    exports org.ssmpeft.stateoffset;

    provides org.ssmpeft.api.spi.PeftMethodProvider with
            org.ssmpeft.stateoffset.StateOffsetProvider,
            org.ssmpeft.stateoffset.InitialStateProvider,
            org.ssmpeft.stateoffset.AdditionalScanProvider;
}
