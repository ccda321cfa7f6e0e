package nemesis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
)

// None is the --nemesis value that injects no fault.
const None = "none"

// Kind is one fault kind as `faultline list` shows it.
type Kind struct {
	// Name is the --nemesis name.
	Name string
	// Usage shows the name with its optional argument, as in "kill[=one|minority]".
	Usage string
	// Description is one line for `faultline list`.
	Description string
}

type kind struct {
	Kind
	parse func(arg string, hasArg bool) (Fault, error)
}

func kinds() []kind {
	return []kind{
		{Kind{"partition", "partition[=" + strings.Join(Shapes(), "|") + "]",
			"cut node-to-node links; each window draws a shape: random halves, one node isolated, majorities ring, or bridge"},
			parsePartition},
		{Kind{"latency", "latency[=LATENCY[/JITTER]]",
			fmt.Sprintf("delay every link in each direction by latency ± jitter (default %v ± %v; jitter defaults to half the latency)", DefaultLatency, DefaultJitter)},
			parseLatency},
		{Kind{"loss", "loss[=FRACTION]",
			fmt.Sprintf("drop a share of the packets on every node-to-node link, in each direction (default %v; loss=0.3 sets it); docker provider only", DefaultLoss)},
			parseLoss},
		{Kind{"kill", "kill[=one|minority]",
			"kill a random node or a random minority (SIGKILL), restart it when the window ends"},
			func(arg string, has bool) (Fault, error) {
				t, err := parsePick("kill", arg, has, PickOneOrMinority)
				return &Kill{Nodes: t}, err
			}},
		{Kind{"pause", "pause[=one|minority]",
			"pause a random node (SIGSTOP), or a random minority, resume it when the window ends"},
			func(arg string, has bool) (Fault, error) {
				t, err := parsePick("pause", arg, has, PickOne)
				return &Pause{Nodes: t}, err
			}},
	}
}

// Kinds lists the fault kinds --nemesis accepts, in a fixed order.
func Kinds() []Kind {
	var out []Kind
	for _, k := range kinds() {
		out = append(out, k.Kind)
	}
	return out
}

func kindNames() string {
	names := []string{None}
	for _, k := range kinds() {
		names = append(names, k.Name)
	}
	return strings.Join(names, ", ")
}

// Parse turns a --nemesis value into fresh faults, in list order: "none"
// gives an empty slice, otherwise a comma list of kinds, each optionally
// with an argument after "=" (see Kinds for the forms). Every error wraps
// core.ErrBadInput and lists the valid choices.
func Parse(list string) ([]Fault, error) {
	list = strings.TrimSpace(list)
	if list == None {
		return []Fault{}, nil
	}
	if list == "" {
		return nil, core.BadInput("empty --nemesis list; use %q or a comma list of: %s", None, kindNames())
	}
	var out []Fault
	var seen []string
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		name, arg, hasArg := strings.Cut(item, "=")
		switch {
		case item == "":
			return nil, core.BadInput("empty entry in --nemesis %q; valid: %s", list, kindNames())
		case name == None:
			return nil, core.BadInput("--nemesis %q: %q cannot be combined with faults", list, None)
		case slices.Contains(seen, name):
			return nil, core.BadInput("--nemesis %q names %s twice", list, name)
		}
		i := slices.IndexFunc(kinds(), func(k kind) bool { return k.Name == name })
		if i < 0 {
			return nil, core.BadInput("unknown nemesis %q; valid: %s", name, kindNames())
		}
		f, err := kinds()[i].parse(arg, hasArg)
		if err != nil {
			return nil, err
		}
		seen = append(seen, name)
		out = append(out, f)
	}
	return out, nil
}

func parsePartition(arg string, hasArg bool) (Fault, error) {
	if !hasArg {
		return &Partition{}, nil
	}
	if !slices.Contains(Shapes(), arg) {
		return nil, core.BadInput("unknown partition shape %q; valid: %s", arg, strings.Join(Shapes(), ", "))
	}
	return &Partition{Shapes: []string{arg}}, nil
}

func parseLatency(arg string, hasArg bool) (Fault, error) {
	if !hasArg {
		return &Latency{Latency: DefaultLatency, Jitter: DefaultJitter}, nil
	}
	latS, jitS, hasJitter := strings.Cut(arg, "/")
	lat, err := time.ParseDuration(latS)
	if err != nil || lat <= 0 {
		return nil, core.BadInput("latency %q: want a positive Go duration such as 100ms, optionally /JITTER", arg)
	}
	jit := lat / 2
	if hasJitter {
		jit, err = time.ParseDuration(jitS)
		if err != nil || jit < 0 || jit > lat {
			return nil, core.BadInput("latency %q: jitter must be a Go duration between 0 and the latency", arg)
		}
	}
	return &Latency{Latency: lat, Jitter: jit}, nil
}

func parseLoss(arg string, hasArg bool) (Fault, error) {
	if !hasArg {
		return &Loss{Fraction: DefaultLoss}, nil
	}
	f, err := strconv.ParseFloat(arg, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > 1 {
		return nil, core.BadInput("loss %q: want a fraction of packets above 0 and at most 1, such as 0.3", arg)
	}
	return &Loss{Fraction: f}, nil
}

func parsePick(fault, arg string, hasArg bool, def Pick) (Pick, error) {
	if !hasArg {
		return def, nil
	}
	switch t := Pick(arg); t {
	case PickOne, PickMinority:
		return t, nil
	}
	return "", core.BadInput("%s=%s: valid choices: %s, %s", fault, arg, PickOne, PickMinority)
}
