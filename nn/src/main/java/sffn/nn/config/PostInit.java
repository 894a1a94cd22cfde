package sffn.nn.config;

/** Initialisation applied after the normal(0, initializer_range) draw of the factors. */
public enum PostInit { SVD, ORTHO, NONE }
