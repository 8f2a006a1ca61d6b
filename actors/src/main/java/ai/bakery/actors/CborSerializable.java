package ai.bakery.actors;

/** Marker of every message that crosses the cluster; bound to Jackson CBOR in reference.conf. */
public interface CborSerializable {}
