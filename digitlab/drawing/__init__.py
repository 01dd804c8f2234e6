"""How a drawing becomes a model's input and answer: preprocessing, pictures, the reading, the gate, views inside the
network."""
