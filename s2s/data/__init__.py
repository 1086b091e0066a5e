"""Data: from raw parallel corpora to memory-mapped token ids that training reads.

| module | job |
|---|---|
| `readers.py` | read TSV / CSV / aligned text files / `.xlsx` into rows, line by line, reporting bad lines |
| `langcheck.py` | refuse columns whose script doesn't fit their language code (a swapped ko/en header) |
| `cleaning.py` | normalise text (NFC, control characters, whitespace) and the pair filters, counted per rule |
| `splits.py` | choose dev/test by index from a seed; the train-leak rule |
| `subwords.py` | `Vocab` (a SentencePiece model) and training one deterministically |
| `binary.py` | `{split}.{lang}.bin` + `.idx`: write them streaming, open them memory-mapped |
| `manifest.py` | `manifest.json`: what a data directory holds; `load_manifest` |
| `staging.py` | build a directory beside its target and rename it in, so nothing half-written is ever left |
| `prepare.py` | `prepare(inputs, options, out)`: the pipeline behind `s2s prepare` |
| `display.py` | the progress display and the summary table (rich, on the terminal) |
| `dataset.py` | `ParallelData`, `Batch`, `collate`, `token_batches`: what training iterates over |

Importing this package imports nothing heavy; `dataset.py` is the only module that needs torch.
"""
