package ai.bakery.model.llm;

import ai.bakery.model.attention.AttentionKernel;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.nn.Rope;

/**
 * What every decoder layer of one forward shares: the token routing, the RoPE table of the packed positions,
 * where samples and splits lie, and the attention kernel that honours them.
 */
public record PackContext(TokenRouting routing, Rope.Table rope, PackLayout layout, AttentionKernel kernel) {}
