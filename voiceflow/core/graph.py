"""Declaring graphs in Python and validating them at build time.

A ``Graph`` is a set of processors and directed edges. Chains, fan-out, fan-in
through an explicit ``Merge``, routers and nested graphs are all spelled with
``link``/``chain``. A nested graph is flattened when linked (its entry and exit
stand in for it), so nesting costs no extra hop at run time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from voiceflow.core.nodes import Merge, Router
from voiceflow.core.processor import Processor
from voiceflow.frames.base import Frame
from voiceflow.frames.control import Cancel, End, Error, Interrupt, Metrics, Start

#: Frames any run can carry without a declared producer.
AMBIENT: tuple[type[Frame], ...] = (Start, End, Cancel, Interrupt, Error, Metrics)

Node: TypeAlias = "Processor | Graph"


class GraphError(ValueError):
    """An invalid graph shape, reported when the graph is built."""


@dataclass
class BuiltGraph:
    """A validated, flattened graph ready to run."""

    name: str
    nodes: list[Processor]
    edges: list[tuple[Processor, Processor]]
    sources: list[Processor]
    sinks: list[Processor]
    inputs: tuple[type[Frame], ...] = field(default=())

    def node(self, name: str) -> Processor:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


class Graph:
    """A directed graph of processors; usable as a node of another graph."""

    def __init__(self, name: str = "graph", *, inputs: Iterable[type[Frame]] = ()) -> None:
        self.name = name
        self.inputs = tuple(inputs)
        self._nodes: list[Processor] = []
        self._edges: list[tuple[Processor, Processor]] = []

    # -- declaration -----------------------------------------------------------
    def add(self, *nodes: Node) -> Graph:
        for n in nodes:
            self._absorb(n)
        return self

    def _absorb(self, node: Node) -> None:
        if isinstance(node, Graph):
            if node is self:
                raise GraphError(f"graph {self.name!r} cannot contain itself")
            for n in node._nodes:
                self._add_node(n)
            for a, b in node._edges:
                if (a, b) not in self._edges:
                    self._edges.append((a, b))
        else:
            self._add_node(node)

    def _add_node(self, p: Processor) -> None:
        if not isinstance(p, Processor):
            raise GraphError(f"{p!r} is not a Processor or Graph")
        if p not in self._nodes:
            self._nodes.append(p)

    def link(self, a: Node, b: Node) -> Graph:
        """Edge from ``a`` (its exit, if a graph) to ``b`` (its entry, if a graph)."""
        self.add(a, b)
        src = a.exit if isinstance(a, Graph) else a
        dst = b.entry if isinstance(b, Graph) else b
        if src is dst:
            raise GraphError(f"node {src.name!r} cannot link to itself (cycle: {src.name} -> {src.name})")
        if (src, dst) not in self._edges:
            self._edges.append((src, dst))
        return self

    def chain(self, *nodes: Node) -> Graph:
        if len(nodes) == 1:
            self.add(nodes[0])
        for a, b in itertools.pairwise(nodes):
            self.link(a, b)
        return self

    def fan_out(self, src: Node, targets: Sequence[Node]) -> Graph:
        for t in targets:
            self.link(src, t)
        return self

    def fan_in(self, sources: Sequence[Node], merge: Merge) -> Graph:
        if not isinstance(merge, Merge):
            raise GraphError(f"fan-in into {getattr(merge, 'name', merge)!r} needs an explicit Merge")
        for s in sources:
            self.link(s, merge)
        return self

    def route(self, router: Router, branches: dict[str, Node]) -> Graph:
        """Wire each labelled branch of ``router``; labels must match its routes."""
        labels = {label for label, _ in router.routes} | ({router.default} if router.default else set())
        unknown = set(branches) - labels
        missing = labels - set(branches)
        if unknown or missing:
            raise GraphError(
                f"router {router.name!r}: branches {sorted(unknown)} have no route, "
                f"routes {sorted(missing)} have no branch"
            )
        for label, node in branches.items():
            self.link(router, node)
            router.branches[label] = node.entry if isinstance(node, Graph) else node
        return self

    # -- shape ------------------------------------------------------------------------
    def _ins(self, n: Processor) -> list[Processor]:
        return [a for a, b in self._edges if b is n]

    def _outs(self, n: Processor) -> list[Processor]:
        return [b for a, b in self._edges if a is n]

    @property
    def entry(self) -> Processor:
        srcs = [n for n in self._nodes if not self._ins(n)]
        if len(srcs) != 1:
            raise GraphError(
                f"graph {self.name!r} used as a node needs exactly one entry, has {[n.name for n in srcs]}"
            )
        return srcs[0]

    @property
    def exit(self) -> Processor:
        sinks = [n for n in self._nodes if not self._outs(n)]
        if len(sinks) != 1:
            raise GraphError(
                f"graph {self.name!r} used as a node needs exactly one exit, has {[n.name for n in sinks]}"
            )
        return sinks[0]

    # -- validation --------------------------------------------------------------------
    def build(self) -> BuiltGraph:
        nodes = list(self._nodes)
        if not nodes:
            raise GraphError(f"graph {self.name!r} is empty")
        names: dict[str, Processor] = {}
        for n in nodes:
            if n.name in names:
                raise GraphError(f"graph {self.name!r}: two nodes are named {n.name!r}")
            names[n.name] = n
        ins = {n: self._ins(n) for n in nodes}
        outs = {n: self._outs(n) for n in nodes}
        if len(nodes) > 1:
            lonely = [n.name for n in nodes if not ins[n] and not outs[n]]
            if lonely:
                raise GraphError(f"graph {self.name!r}: unconnected nodes {lonely}")
        self._check_cycles(nodes, outs)
        for n in nodes:
            if len(ins[n]) > 1 and not isinstance(n, Merge):
                raise GraphError(
                    f"node {n.name!r} has {len(ins[n])} inputs "
                    f"({', '.join(p.name for p in ins[n])}); fan-in needs an explicit Merge"
                )
            if isinstance(n, Router):
                unwired = [lbl for lbl, _ in n.routes if lbl not in n.branches]
                if unwired:
                    raise GraphError(f"router {n.name!r}: routes {unwired} have no branch")
        self._check_producers(nodes, ins, outs)
        sources = [n for n in nodes if not ins[n]]
        sinks = [n for n in nodes if not outs[n]]
        return BuiltGraph(self.name, nodes, list(self._edges), sources, sinks, self.inputs)

    def _check_cycles(self, nodes: list[Processor], outs: dict[Processor, list[Processor]]) -> None:
        state: dict[Processor, int] = {}
        stack: list[Processor] = []

        def visit(n: Processor) -> None:
            state[n] = 1
            stack.append(n)
            for m in outs[n]:
                if state.get(m) == 1:
                    cyc = [*stack[stack.index(m) :], m]
                    raise GraphError(f"graph {self.name!r} has a cycle: {' -> '.join(p.name for p in cyc)}")
                if m not in state:
                    visit(m)
            stack.pop()
            state[n] = 2

        for n in nodes:
            if n not in state:
                visit(n)

    def _check_producers(
        self,
        nodes: list[Processor],
        ins: dict[Processor, list[Processor]],
        outs: dict[Processor, list[Processor]],
    ) -> None:
        def closure(n: Processor, nxt: dict[Processor, list[Processor]]) -> list[Processor]:
            seen: list[Processor] = []
            todo = list(nxt[n])
            while todo:
                m = todo.pop()
                if m not in seen:
                    seen.append(m)
                    todo.extend(nxt[m])
            return seen

        def can_make(makers: Iterable[Processor], extra: tuple[type[Frame], ...], want: type[Frame]) -> bool:
            made = list(extra) + [t for m in makers for t in m.produces]
            return any(issubclass(t, want) or issubclass(want, t) for t in made)

        # A processor that handles several types is fine when only some reach it; it is an
        # error when none of the types it handles can ever arrive.
        for n in nodes:
            wants = [t for t in n.consumes() if not issubclass(t, AMBIENT)]
            if wants and ins[n]:
                ups = closure(n, ins)
                extra = self.inputs
                if not any(can_make(ups, extra, w) for w in wants):
                    raise GraphError(
                        f"node {n.name!r} consumes {', '.join(w.__name__ for w in wants)} but nothing "
                        f"upstream produces it (upstream: {', '.join(u.name for u in ups)}"
                        f"{'; graph inputs: ' + ', '.join(t.__name__ for t in extra) if extra else ''})"
                    )
            wants_up = [t for t in n.consumes(upstream=True) if not issubclass(t, AMBIENT)]
            if wants_up and outs[n]:
                downs = closure(n, outs)
                if not any(can_make(downs, (), w) for w in wants_up):
                    raise GraphError(
                        f"node {n.name!r} handles {', '.join(w.__name__ for w in wants_up)} travelling "
                        f"upstream but nothing downstream produces it "
                        f"(downstream: {', '.join(d.name for d in downs)})"
                    )
