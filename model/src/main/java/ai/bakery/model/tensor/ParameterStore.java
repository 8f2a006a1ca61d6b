package ai.bakery.model.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * All weights of a model by their checkpoint names, in registration order, owned by one long-lived manager.
 * Modules register their weights at construction and keep the {@link Parameter} handles; optimizer, EMA,
 * checkpointing and sharding work on this store, never on module internals.
 */
public final class ParameterStore implements AutoCloseable {
  private final NDManager manager;
  private final Map<String, Parameter> params = new LinkedHashMap<>();
  private java.util.function.Consumer<Parameter> onCreate = p -> {};

  public ParameterStore(NDManager parent) {
    this.manager = parent.newSubManager();
  }

  public NDManager manager() {
    return manager;
  }

  /** Registers a new fp32 weight initialised by {@code init} (which creates it on the given manager). */
  public Parameter create(String name, Shape shape, Function<NDManager, NDArray> init) {
    if (params.containsKey(name)) {
      throw new IllegalArgumentException("parameter registered twice: " + name);
    }
    NDArray value = init.apply(manager);
    if (!value.getShape().equals(shape)) {
      throw new IllegalArgumentException(name + ": initialiser gave " + value.getShape() + ", want " + shape);
    }
    if (value.getDataType() != DataType.FLOAT32) {
      value = value.toType(DataType.FLOAT32, false);
    }
    value.attach(manager);
    value.setName(name);
    Parameter p = new Parameter(name, value);
    p.setTrainable(true);
    params.put(name, p);
    onCreate.accept(p);
    return p;
  }

  /**
   * Called with every parameter right after it is registered, before the next one is created: a sharded run
   * keeps its slice and frees the full value there, so building the model never holds all of it at once.
   */
  public void onCreate(java.util.function.Consumer<Parameter> listener) {
    this.onCreate = java.util.Objects.requireNonNull(listener);
  }

  public Parameter get(String name) {
    Parameter p = params.get(name);
    if (p == null) {
      throw new IllegalArgumentException("no parameter named " + name);
    }
    return p;
  }

  public boolean contains(String name) {
    return params.containsKey(name);
  }

  public Map<String, Parameter> all() {
    return Collections.unmodifiableMap(params);
  }

  public List<Parameter> trainable() {
    List<Parameter> out = new ArrayList<>();
    for (Parameter p : params.values()) {
      if (p.trainable()) {
        out.add(p);
      }
    }
    return out;
  }

  /** Freezes (or unfreezes) every parameter whose name matches. Returns how many changed. */
  public int setTrainable(Predicate<String> names, boolean trainable) {
    int n = 0;
    for (Parameter p : params.values()) {
      if (names.test(p.name())) {
        p.setTrainable(trainable);
        n++;
      }
    }
    return n;
  }

  public long numel() {
    long n = 0;
    for (Parameter p : params.values()) {
      n += p.value().size();
    }
    return n;
  }

  @Override
  public void close() {
    manager.close();
  }
}
