"""What models read: MNIST on disk (IDX) and in tensors, My digits, font and stroke digits in writing styles."""
