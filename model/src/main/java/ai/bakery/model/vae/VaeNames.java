package ai.bakery.model.vae;

/** Joins checkpoint name parts; an empty prefix means the names stand alone (as in FLUX's ae.safetensors). */
final class VaeNames {
  private VaeNames() {}

  static String join(String prefix, String name) {
    return prefix.isEmpty() ? name : prefix + "." + name;
  }
}
