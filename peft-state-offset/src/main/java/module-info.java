/** State-based PEFT methods: State-offset Tuning (variants h and y) and initial-state tuning. */
module org.ssmpeft.stateoffset {
    requires transitive org.ssmpeft.api;

    exports org.ssmpeft.stateoffset;

    provides org.ssmpeft.api.spi.PeftMethodProvider with
            org.ssmpeft.stateoffset.StateOffsetProvider,
            org.ssmpeft.stateoffset.InitialStateProvider;
}
