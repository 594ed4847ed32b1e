"""``lamina.rl``: deep Q-learning (DQN agent, replay buffers, training loop, built-in environments)."""
