package ai.bakery.data.plan;

/**
 * Ids of the tokens the planner inserts: {@code <|im_start|>} (bos), {@code <|im_end|>} (eos),
 * {@code <|vision_start|>} and {@code <|vision_end|>}.
 */
public record SpecialTokens(int bos, int eos, int visionStart, int visionEnd) {}
