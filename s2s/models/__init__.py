"""The architectures. Importing this package registers each of them in `s2s.registry.ARCHITECTURES`.

Adding one: a new module with a config dataclass and a `Seq2Seq` subclass decorated with
`@ARCHITECTURES.register(name, config=...)`, plus one import line here.
"""

from s2s.models import rnn, attention, transformer  # noqa: F401
