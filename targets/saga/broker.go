package saga

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/targets"
	wl "github.com/faultline/faultline/workloads/saga"
)

// Stream is the JetStream stream that holds every command and event.
const Stream = "SAGA"

// subjectPrefix begins every subject of the stream: commands are
// "saga.<service>.<step>", events "saga.orders.<event>".
const subjectPrefix = "saga."

// consumers lists the durable consumers the broker makes, one per node
// that consumes (the orchestrator and each service), each named after the
// role and reading "saga.<role>.>".
var consumers = append([]string{RoleOrders}, wl.Services...)

// subject returns the subject of a message to role: "saga.payment.charge".
func subject(role, name string) string { return subjectPrefix + role + "." + name }

// streamConfig is the stream: every subject of the saga, on disk, kept
// for an hour.
func streamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: Stream, Subjects: []string{subjectPrefix + ">"},
		Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy, MaxAge: time.Hour, Replicas: 1,
	}
}

// consumerConfig is role's durable consumer: explicit acknowledgements,
// redelivery after AckWait, no bound on deliveries.
func consumerConfig(role string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable: role, FilterSubject: subjectPrefix + role + ".>",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: AckWait, MaxDeliver: -1,
		MaxAckPending: 1000, DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// RunBroker runs the broker node: nats-server with JetStream, its store in
// DataDir/jetstream, listening on APIAddr for the services and the
// readiness probe alike. Once it accepts connections it makes (or keeps)
// the stream and the durable consumers. It stops when ctx ends.
func RunBroker(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	host, portStr, err := net.SplitHostPort(cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("api address %q: %w", cfg.APIAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("api address %q: %w", cfg.APIAddr, err)
	}
	opts := &server.Options{
		ServerName: cfg.Name, Host: host, Port: port, NoSigs: true, Logtime: true,
		JetStream: true, StoreDir: filepath.Join(cfg.DataDir, "jetstream"),
		JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("nats-server: %w", err)
	}
	ns.ConfigureLogger()
	ns.Start()
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()
	if !ns.ReadyForConnections(30 * time.Second) {
		return errors.New("nats-server did not accept connections within 30s")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("broker-setup"))
	if err != nil {
		return fmt.Errorf("connect in process: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := setup(sctx, js); err != nil {
		return err
	}
	log.Info("broker ready", "stream", Stream, "consumers", consumers)
	<-ctx.Done()
	return nil
}

// setup makes the stream and the consumers, or updates them to the
// configuration here.
func setup(ctx context.Context, js jetstream.JetStream) error {
	if _, err := js.CreateOrUpdateStream(ctx, streamConfig()); err != nil {
		return fmt.Errorf("stream %s: %w", Stream, err)
	}
	for _, c := range consumers {
		if _, err := js.CreateOrUpdateConsumer(ctx, Stream, consumerConfig(c)); err != nil {
			return fmt.Errorf("consumer %s: %w", c, err)
		}
	}
	return nil
}

// BrokerReady returns nil when the broker at addr accepts a NATS
// connection and has the stream and every consumer. It makes one attempt,
// bounded by ctx and by two seconds.
func BrokerReady(ctx context.Context, addr string) error {
	ctx, cancel := readyContext(ctx)
	defer cancel()
	nc, err := nats.Connect("nats://"+addr, nats.Timeout(2*time.Second), nats.NoReconnect(), nats.Name("ready"))
	if err != nil {
		return fmt.Errorf("broker %s: %w", addr, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	s, err := js.Stream(ctx, Stream)
	if err != nil {
		return fmt.Errorf("broker %s: stream %s: %w", addr, Stream, err)
	}
	for _, c := range consumers {
		if _, err := s.Consumer(ctx, c); err != nil {
			return fmt.Errorf("broker %s: consumer %s: %w", addr, c, err)
		}
	}
	return nil
}
