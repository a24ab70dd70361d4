# Meta consolidated checkpoints and training checkpoints (issue 4, items 2 and 3).
lmforge_oracle_check(meta 900 oracle node)          # Meta shards -> HF (== torch.cat + HF permutation) and GGUF; Meta-convention float64 vs torch_reference, lmforge logits, llama.cpp; bad folders
lmforge_oracle_check(training_ckpt 300 oracle)      # Lightning / plain / DDP .ckpt .pt: inspect counts vs torch, convert keeps exactly the stripped weights
