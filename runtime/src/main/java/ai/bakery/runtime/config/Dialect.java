package ai.bakery.runtime.config;

/** The form a job config was written in. */
public enum Dialect {
  /** Bakery's sectioned YAML. */
  BAKERY,
  /** LMMS Engine YAML, current top-level form. */
  LMMS_ENGINE,
  /** LMMS Engine YAML, older {@code - type: trainer / config:} list form. */
  LMMS_ENGINE_LIST,
  /** The reference trainer's command-line flags, no config file. */
  REFERENCE_FLAGS
}
