package ai.bakery.model.tensor;

import ai.djl.ndarray.NDArray;

/**
 * One named weight of the model. {@code name} is exactly the reference checkpoint's key (e.g.
 * {@code language_model.model.layers.3.self_attn.q_proj_moe_gen.weight}); {@code value} is fp32 master data.
 */
public final class Parameter {
  private final String name;
  private NDArray value;
  private boolean trainable = true;

  Parameter(String name, NDArray value) {
    this.name = name;
    this.value = value;
  }

  public String name() {
    return name;
  }

  public NDArray value() {
    return value;
  }

  public boolean trainable() {
    return trainable;
  }

  /** Freezing drops the autograd flag so backward neither computes nor stores this gradient. */
  public void setTrainable(boolean trainable) {
    this.trainable = trainable;
    value.setRequiresGradient(trainable);
  }

  /** Replaces the data in place (same shape), keeping identity so modules holding it see the new values. */
  public void copyFrom(NDArray source) {
    if (!source.getShape().equals(value.getShape())) {
      throw new IllegalArgumentException(
          name + ": shape " + source.getShape() + " does not match " + value.getShape());
    }
    value.set(source.toType(value.getDataType(), false).toByteBuffer());
  }
}
