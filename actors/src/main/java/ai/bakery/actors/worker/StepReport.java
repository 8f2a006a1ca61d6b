package ai.bakery.actors.worker;

import ai.bakery.actors.CborSerializable;

/**
 * What a rank reports of a computed step, for the coordinator's step line: the group's losses (the same on
 * every rank) and this rank's packed tokens. {@link #NONE} when an executor measures nothing.
 */
public record StepReport(double ce, double mse, double gradNorm, double lr, long tokens) implements CborSerializable {
  public static final StepReport NONE = new StepReport(Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0);
}
