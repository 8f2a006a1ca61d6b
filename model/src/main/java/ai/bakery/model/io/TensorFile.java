package ai.bakery.model.io;

import java.util.Map;

/** A set of named tensors on disk (one safetensors file or a sharded checkpoint), read lazily. */
public interface TensorFile extends AutoCloseable {
  /** Every tensor by name; none is loaded until asked. */
  Map<String, TensorSource> tensors();

  @Override
  void close();
}
