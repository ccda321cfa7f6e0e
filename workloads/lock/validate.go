package lock

import (
	"errors"
	"fmt"

	"github.com/faultline/faultline/core"
)

// The operations of an Access.
const (
	// AccessRead is an Access that read the key.
	AccessRead = "read"
	// AccessWrite is an Access that wrote the key.
	AccessWrite = "write"
)

// Valid reports whether o is one of the four outcomes.
func (o Outcome) Valid() bool {
	switch o {
	case Done, Refused, Unknown, Skipped:
		return true
	}
	return false
}

// Validate reports what makes v impossible, as an error wrapping
// core.ErrBadInput: an outcome that is not one of the four, a negative
// time, a read or write attempted without the lock acquired, a write
// attempted without a value read, an acquired lock without a holder, or
// a release that starts before the lock was acquired. It does not relate
// v to the type of the completion that carries it.
func (v CycleValue) Validate() error {
	for _, s := range []struct {
		name string
		o    Outcome
	}{{"acquire", v.Acquire}, {"read", v.Read}, {"write", v.Write}, {"release", v.Release}} {
		if !s.o.Valid() {
			return core.BadInput("%s outcome %q is not ok, fail, info or empty", s.name, s.o)
		}
	}
	if v.AcquiredNS < 0 || v.WriteStartNS < 0 || v.ReleaseStartNS < 0 || v.StalledNS < 0 {
		return core.BadInput("negative time")
	}
	if v.Acquire != Done && (v.Read != Skipped || v.Write != Skipped) {
		return core.BadInput("the resource was used without the lock acquired (acquire %q)", v.Acquire)
	}
	if v.Write != Skipped && v.Read != Done {
		return core.BadInput("a write was attempted without a value read (read %q)", v.Read)
	}
	if v.Acquire == Done && v.Holder == "" {
		return core.BadInput("the lock was acquired by no holder")
	}
	if v.Acquire == Done && v.Release != Skipped && v.ReleaseStartNS < v.AcquiredNS {
		return core.BadInput("release starts at %d ns, before the lock was acquired at %d ns", v.ReleaseStartNS, v.AcquiredNS)
	}
	return nil
}

// validateAs validates v as the value of a completion of type t: ok needs
// the lock acquired and every step definite; fail needs the lock certainly
// not acquired.
func (v CycleValue) validateAs(t core.Type) error {
	if err := v.Validate(); err != nil {
		return err
	}
	switch t {
	case core.OK:
		if v.Acquire != Done {
			return core.BadInput("an ok cycle whose acquire is %q, not ok", v.Acquire)
		}
		if v.Read == Unknown || v.Write == Unknown || v.Release == Unknown {
			return core.BadInput("an ok cycle with a step of unknown outcome")
		}
	case core.Fail:
		if v.Acquire == Done || v.Acquire == Unknown {
			return core.BadInput("a failed cycle whose acquire is %q", v.Acquire)
		}
	}
	return nil
}

// Validate reports what makes s impossible, as an error wrapping
// core.ErrBadInput: an access that is neither a read nor a write, or
// sequence numbers that do not start from 1 and strictly increase in the
// order the accesses are listed.
func (s ResourceState) Validate() error {
	n := int64(len(s.Accesses))
	if s.From < 0 || s.Total < 0 || (n > 0 && s.From+n > s.Total && (s.Total > 0 || s.From > 0)) {
		return core.BadInput("page from %d of %d accesses over a record of %d", s.From, len(s.Accesses), s.Total)
	}
	var last int64
	for i, a := range s.Accesses {
		if a.Op != AccessRead && a.Op != AccessWrite {
			return core.BadInput("access %d: op %q is neither read nor write", i, a.Op)
		}
		if a.Seq < 1 || a.Seq <= last {
			return core.BadInput("access %d: seq %d after seq %d: want increasing numbers from 1", i, a.Seq, last)
		}
		last = a.Seq
	}
	return nil
}

// errNoValue is what asCycle and asResource return for a nil value.
var errNoValue = errors.New("no value")

// asCycle accepts a CycleValue or a non-nil *CycleValue; nil gives
// errNoValue.
func asCycle(v any) (CycleValue, error) {
	switch x := v.(type) {
	case nil:
		return CycleValue{}, errNoValue
	case CycleValue:
		return x, nil
	case *CycleValue:
		if x == nil {
			return CycleValue{}, errNoValue
		}
		return *x, nil
	}
	return CycleValue{}, core.BadInput("cycle value %v (%T): want lock.CycleValue", v, v)
}

// asResource accepts a ResourceState or a non-nil *ResourceState; nil
// gives errNoValue.
func asResource(v any) (ResourceState, error) {
	switch x := v.(type) {
	case nil:
		return ResourceState{}, errNoValue
	case ResourceState:
		return x, nil
	case *ResourceState:
		if x == nil {
			return ResourceState{}, errNoValue
		}
		return *x, nil
	}
	return ResourceState{}, core.BadInput("resource value %v (%T): want lock.ResourceState", v, v)
}

// describeToken phrases a fencing token: "token 7", or "no token".
func describeToken(t int64) string {
	if t == 0 {
		return "no token"
	}
	return fmt.Sprintf("token %d", t)
}
