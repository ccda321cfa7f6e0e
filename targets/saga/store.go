package saga

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	wl "github.com/faultline/faultline/workloads/saga"
)

// record is one order as the orchestrator keeps it.
type record struct {
	wl.Order
	// State is wl.Completed, wl.Compensated, or the state of a saga in
	// flight (see the state constants).
	State string `json:"state"`
	// Failed is the step that failed, once one did.
	Failed string `json:"failed,omitempty"`
}

// orderStore keeps the orchestrator's orders. Every write is durable when
// it returns.
type orderStore interface {
	// create records o in state charging unless an order of its id is
	// recorded already; it returns the order as recorded and whether it
	// was made now.
	create(ctx context.Context, o wl.Order) (record, bool, error)
	// get returns the order named id, and whether there is one.
	get(ctx context.Context, id string) (record, bool, error)
	// transition moves the order named id from state from to state to
	// (recording failed, when not empty), only when it is in from; it
	// returns the order as it is now and whether it moved.
	transition(ctx context.Context, id, from, to, failed string) (record, bool, error)
	// pending returns the orders in flight.
	pending(ctx context.Context) ([]record, error)
	// list returns up to count orders from position from, in the order
	// they were recorded, and how many there are.
	list(ctx context.Context, from, count int64) ([]record, int64, error)
	close() error
}

// effectStore keeps a service's record of the steps it carried out. Every
// write is durable when it returns.
type effectStore interface {
	// apply records e. With a key, it records nothing when a record with
	// that key exists (a unique constraint) and reports whether it
	// recorded e; without one it always records.
	apply(ctx context.Context, e wl.Effect, key string) (bool, error)
	// list returns up to count records from position from, in the order
	// they were made, and how many there are.
	list(ctx context.Context, from, count int64) ([]wl.Effect, int64, error)
	close() error
}

// boltFile is the name of a node's bbolt file in its data folder.
const boltFile = "state.db"

// Buckets of the bbolt files.
var (
	bucketOrders  = []byte("orders")  // id -> record (JSON)
	bucketSeq     = []byte("seq")     // position (8 bytes, big-endian, from 1) -> id
	bucketPending = []byte("pending") // id -> nothing, for orders in flight
	bucketEffects = []byte("effects") // position -> effect (JSON)
	bucketKeys    = []byte("keys")    // key -> position
)

// openBolt opens (or makes) dir's bbolt file with buckets, waiting at most
// a few seconds for its lock (a killed node's lock is gone with it).
func openBolt(dir string, buckets ...[]byte) (*bolt.DB, error) {
	db, err := bolt.Open(filepath.Join(dir, boltFile), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", boltFile, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", boltFile, err)
	}
	return db, nil
}

func itob(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// boltOrders is an orderStore in a bbolt file.
type boltOrders struct{ db *bolt.DB }

func openBoltOrders(dir string) (*boltOrders, error) {
	db, err := openBolt(dir, bucketOrders, bucketSeq, bucketPending)
	if err != nil {
		return nil, err
	}
	return &boltOrders{db: db}, nil
}

func (s *boltOrders) close() error { return s.db.Close() }

func getRecord(tx *bolt.Tx, id string) (record, bool, error) {
	raw := tx.Bucket(bucketOrders).Get([]byte(id))
	if raw == nil {
		return record{}, false, nil
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return record{}, false, fmt.Errorf("order %s: %w", id, err)
	}
	return r, true, nil
}

func putRecord(tx *bolt.Tx, r record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketOrders).Put([]byte(r.ID), raw); err != nil {
		return err
	}
	if isTerminal(r.State) {
		return tx.Bucket(bucketPending).Delete([]byte(r.ID))
	}
	return tx.Bucket(bucketPending).Put([]byte(r.ID), nil)
}

func (s *boltOrders) create(_ context.Context, o wl.Order) (record, bool, error) {
	var out record
	var made bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		r, ok, err := getRecord(tx, o.ID)
		if err != nil || ok {
			out = r
			return err
		}
		out, made = record{Order: o, State: stateCharging}, true
		seq := tx.Bucket(bucketSeq)
		n, err := seq.NextSequence()
		if err != nil {
			return err
		}
		if err := seq.Put(itob(n), []byte(o.ID)); err != nil {
			return err
		}
		return putRecord(tx, out)
	})
	return out, made, err
}

func (s *boltOrders) get(_ context.Context, id string) (record, bool, error) {
	var r record
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, ok, err = getRecord(tx, id)
		return err
	})
	return r, ok, err
}

func (s *boltOrders) transition(_ context.Context, id, from, to, failed string) (record, bool, error) {
	var out record
	var moved bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		r, ok, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no order %s", id)
		}
		out = r
		if r.State != from {
			return nil
		}
		out.State, moved = to, true
		if failed != "" {
			out.Failed = failed
		}
		return putRecord(tx, out)
	})
	return out, moved, err
}

func (s *boltOrders) pending(_ context.Context) ([]record, error) {
	var out []record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, _ []byte) error {
			r, ok, err := getRecord(tx, string(k))
			if err != nil || !ok {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

func (s *boltOrders) list(_ context.Context, from, count int64) ([]record, int64, error) {
	var out []record
	var total int64
	err := s.db.View(func(tx *bolt.Tx) error {
		seq := tx.Bucket(bucketSeq)
		total = int64(seq.Sequence())
		c := seq.Cursor()
		for k, v := c.Seek(itob(uint64(from) + 1)); k != nil && int64(len(out)) < count; k, v = c.Next() {
			r, ok, err := getRecord(tx, string(v))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("order %s at position %d is not recorded", v, binary.BigEndian.Uint64(k))
			}
			out = append(out, r)
		}
		return nil
	})
	return out, total, err
}

// boltEffects is an effectStore in a bbolt file.
type boltEffects struct{ db *bolt.DB }

func openBoltEffects(dir string) (*boltEffects, error) {
	db, err := openBolt(dir, bucketEffects, bucketKeys)
	if err != nil {
		return nil, err
	}
	return &boltEffects{db: db}, nil
}

func (s *boltEffects) close() error { return s.db.Close() }

func (s *boltEffects) apply(_ context.Context, e wl.Effect, key string) (bool, error) {
	applied := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		keys := tx.Bucket(bucketKeys)
		if key != "" && keys.Get([]byte(key)) != nil {
			return nil
		}
		b := tx.Bucket(bucketEffects)
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := b.Put(itob(n), raw); err != nil {
			return err
		}
		if key != "" {
			if err := keys.Put([]byte(key), itob(n)); err != nil {
				return err
			}
		}
		applied = true
		return nil
	})
	return applied, err
}

func (s *boltEffects) list(_ context.Context, from, count int64) ([]wl.Effect, int64, error) {
	out := []wl.Effect{}
	var total int64
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEffects)
		total = int64(b.Sequence())
		c := b.Cursor()
		for k, v := c.Seek(itob(uint64(from) + 1)); k != nil && int64(len(out)) < count; k, v = c.Next() {
			var e wl.Effect
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("record %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, total, err
}
