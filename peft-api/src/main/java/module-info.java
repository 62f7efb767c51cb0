/**
 * The PEFT SPI for state space models: hook points, method providers discovered with {@link java.util.ServiceLoader},
 * typed adapter configs, composition of adapters, and optional Guice wiring.
 */
module org.ssmpeft.api {
    requires transitive com.fasterxml.jackson.databind;
    requires com.fasterxml.jackson.dataformat.yaml;
    requires static com.google.guice;

    exports org.ssmpeft.api.shape;
    exports org.ssmpeft.api.tensor;
    exports org.ssmpeft.api.hooks;
    exports org.ssmpeft.api.adapter;
    exports org.ssmpeft.api.spi;
    exports org.ssmpeft.api.registry;
    exports org.ssmpeft.api.config;
    exports org.ssmpeft.api.composition;
    exports org.ssmpeft.api.guice;

    // Guice calls PeftModule's @Provides methods reflectively.
    opens org.ssmpeft.api.guice to com.google.guice;

    // Config records of method modules are read and built reflectively by the ConfigBinder.
    uses org.ssmpeft.api.spi.PeftMethodProvider;
}
