package ai.bakery.runtime.collective;

/** Builds one group: blocks until all {@code worldSize} members have joined {@code group} of {@code generation}. */
@FunctionalInterface
public interface CollectiveFactory {
  Collective create(String group, long generation, int rank, int worldSize);
}
