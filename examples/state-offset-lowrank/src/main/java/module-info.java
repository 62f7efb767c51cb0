/** A third-party PEFT method: State-offset Tuning with a low-rank offset h' = U·V. Needs only the SPI. */
module com.example.lowrank {
    requires transitive org.ssmpeft.api;

    // the config record is bound reflectively by peft-api's ConfigBinder: its package must be exported
    exports com.example.lowrank;

    provides org.ssmpeft.api.spi.PeftMethodProvider with com.example.lowrank.LowRankStateOffsetProvider;
}
