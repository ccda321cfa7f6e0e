package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// command is the body of a message to a service: carry out step of an
// order.
type command struct {
	Order   string `json:"order"`
	Step    string `json:"step"`
	Account string `json:"account,omitempty"`
	Amount  int64  `json:"amount,omitempty"`
	Item    string `json:"item,omitempty"`
}

// event is the body of a message to the orchestrator: a service carried
// out step of an order (Done), or refused it (the item is out of stock or
// undeliverable).
type event struct {
	Order string `json:"order"`
	Step  string `json:"step"`
	Done  bool   `json:"done"`
}

// Bounds of the broker's traffic.
const (
	// handlers bounds the messages a node handles at once.
	handlers = 32
	// handleTimeout bounds the handling of one message (store write and
	// publish).
	handleTimeout = 5 * time.Second
	// publishTimeout bounds one publish, until the broker's acknowledgement.
	publishTimeout = 2 * time.Second
	// bindRetry is the pause between attempts to find the consumer while
	// the broker is not up yet.
	bindRetry = 200 * time.Millisecond
)

// bus is a node's connection to the broker: it publishes and consumes the
// node's durable consumer.
type bus struct {
	log   *slog.Logger
	nc    *nats.Conn
	js    jetstream.JetStream
	bound atomic.Bool
	wg    sync.WaitGroup
}

// dialBus connects to the broker at addr (the node's Peers address of the
// broker), reconnecting for ever after a loss; the first connection too is
// retried in the background, so dialBus returns at once.
func dialBus(addr, name string, log *slog.Logger) (*bus, error) {
	b := &bus{log: log}
	nc, err := nats.Connect("nats://"+addr,
		nats.Name(name), nats.Timeout(2*time.Second),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond),
		nats.PingInterval(time.Second), nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("broker connection lost", "err", err) }),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("broker connection back") }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to the broker at %s: %w", addr, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	b.nc, b.js = nc, js
	return b, nil
}

// publish sends v as JSON to subj and waits for the broker's
// acknowledgement, bounded by publishTimeout.
func (b *bus) publish(ctx context.Context, subj string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if _, err := b.js.Publish(ctx, subj, data); err != nil {
		return fmt.Errorf("publish %s: %w", subj, err)
	}
	return nil
}

// consume binds the durable consumer of role (retrying while the broker
// or its consumer is not there yet) and hands every message to handle, up
// to handlers at once, each under handleTimeout. handle acknowledges what
// it handled; a message it leaves unacknowledged comes again after
// AckWait. consume returns once ctx ends and every handler returned.
func (b *bus) consume(ctx context.Context, role string, handle func(ctx context.Context, m jetstream.Msg)) error {
	var cons jetstream.Consumer
	for {
		var err error
		bctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		cons, err = b.js.Consumer(bctx, Stream, role)
		cancel()
		if err == nil {
			break
		}
		b.log.Debug("consumer not bound yet", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(bindRetry):
		}
	}
	sem := make(chan struct{}, handlers)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		b.wg.Go(func() {
			defer func() { <-sem }()
			hctx, cancel := context.WithTimeout(ctx, handleTimeout)
			defer cancel()
			handle(hctx, m)
		})
	}, jetstream.PullMaxMessages(2*handlers), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, nats.ErrConnectionClosed) {
			b.log.Debug("consume", "err", err)
		}
	}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", role, err)
	}
	b.bound.Store(true)
	b.log.Info("consuming", "consumer", role)
	<-ctx.Done()
	cc.Stop()
	b.wg.Wait()
	return nil
}

// ready reports whether the node consumes and is connected.
func (b *bus) ready() error {
	if !b.bound.Load() {
		return errors.New("not consuming yet")
	}
	if !b.nc.IsConnected() {
		return errors.New("not connected to the broker")
	}
	return nil
}

// close closes the connection.
func (b *bus) close() { b.nc.Close() }

// decode reads m's body into v; a body that does not decode is
// terminated (it would never decode) and reported.
func decode(m jetstream.Msg, v any, log *slog.Logger) bool {
	if err := json.Unmarshal(m.Data(), v); err != nil {
		log.Error("bad message", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return false
	}
	return true
}
