package ai.bakery.data.shard;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Where a worker's read of one group stands: the next row to read.
 *
 * @param slot index into the worker's slots of the group
 * @param row next row of that slot's unit
 * @param pass completed passes over all the worker's slots
 */
public record GroupCursor(@JsonProperty("slot") int slot, @JsonProperty("row") long row,
    @JsonProperty("pass") long pass) {
  public static final GroupCursor START = new GroupCursor(0, 0, 0);
}
