"""Attention layers: MultiheadAttention, sinusoidal PositionalEncoding, TransformerEncoder(Layer)."""
