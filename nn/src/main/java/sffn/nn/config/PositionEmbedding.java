package sffn.nn.config;

/** Rotary embeddings on q and k, or a learned absolute table added to the token embeddings. */
public enum PositionEmbedding { ROPE, ABSOLUTE }
