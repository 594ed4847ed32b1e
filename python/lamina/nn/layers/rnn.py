"""Recurrent layers (RNN, LSTM, GRU and their cells) with PyTorch's arguments and weight layout."""
