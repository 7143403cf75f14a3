// Command webhook_load sends AdmissionReviews to a webhook the way kube-apiserver does:
// HTTP/1.1 POSTs over keep-alive TLS connections from Go's net/http client, at most
// -concurrency in flight. benchmarks/webhook.py builds and drives it; it is not a test.
//
// Input: -reviews, a file of AdmissionReview bodies, one JSON document per line.
// Output: one JSON object on stdout with every request's latency in seconds, the wall time,
// and the client's own CPU time, so the Python side computes and prints the figures.
//
// Modes: "closed" keeps -concurrency requests in flight back to back (throughput);
// "open" starts a request every 1/-rate s, waiting for a free slot when all are busy, and
// measures latency from the moment the request was due (an API server's view).
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

type answer struct {
	Response struct {
		Allowed bool   `json:"allowed"`
		Patch   string `json:"patch"`
	} `json:"response"`
}

type result struct {
	Latencies  []float64 `json:"latencies"`
	Seconds    float64   `json:"seconds"`
	CPUSeconds float64   `json:"client_cpu_seconds"`
}

func readReviews(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 4<<20)
	for scanner.Scan() {
		line := append([]byte(nil), scanner.Bytes()...)
		if len(line) > 0 {
			out = append(out, line)
		}
	}
	return out, scanner.Err()
}

func newClient(caFile string, concurrency int) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		MaxConnsPerHost:     concurrency,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}, nil
}

// post sends one review and checks the answer allows the pod with a non-empty patch.
func post(client *http.Client, url string, body []byte) error {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	payload, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.300s", resp.StatusCode, payload)
	}
	var a answer
	if err := json.Unmarshal(payload, &a); err != nil {
		return fmt.Errorf("answer is not JSON: %v", err)
	}
	patch, err := base64.StdEncoding.DecodeString(a.Response.Patch)
	if !a.Response.Allowed || err != nil || len(patch) == 0 {
		return fmt.Errorf("unexpected answer: %.300s", payload)
	}
	return nil
}

func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}

func closedLoop(client *http.Client, url string, reviews [][]byte, concurrency int) ([]float64, error) {
	latencies := make([]float64, len(reviews))
	next := make(chan int, len(reviews))
	for i := range reviews {
		next <- i
	}
	close(next)
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				started := time.Now()
				if err := post(client, url, reviews[i]); err != nil {
					errs <- err
					return
				}
				latencies[i] = time.Since(started).Seconds()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return latencies, <-errs
}

func openLoop(client *http.Client, url string, reviews [][]byte, concurrency int, rate float64) ([]float64, error) {
	latencies := make([]float64, len(reviews))
	slots := make(chan struct{}, concurrency)
	errs := make(chan error, len(reviews))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range reviews {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			slots <- struct{}{}
			err := post(client, url, reviews[i])
			<-slots
			if err != nil {
				errs <- err
				return
			}
			latencies[i] = time.Since(due).Seconds()
		}(i, due)
	}
	wg.Wait()
	close(errs)
	return latencies, <-errs
}

func main() {
	url := flag.String("url", "", "the webhook's mutation URL")
	caFile := flag.String("ca", "", "PEM CA bundle that signed the webhook's certificate")
	reviewsFile := flag.String("reviews", "", "AdmissionReview bodies, one per line")
	concurrency := flag.Int("concurrency", 64, "requests in flight at most")
	mode := flag.String("mode", "closed", "closed or open")
	rate := flag.Float64("rate", 2000, "open loop: arrivals per second")
	warmup := flag.Int("warmup", 500, "requests sent first and not measured (TLS handshakes, caches)")
	flag.Parse()

	reviews, err := readReviews(*reviewsFile)
	if err != nil || len(reviews) == 0 {
		fmt.Fprintln(os.Stderr, "cannot read reviews:", err)
		os.Exit(2)
	}
	client, err := newClient(*caFile, *concurrency)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *warmup > 0 {
		if _, err := closedLoop(client, *url, reviews[:min(*warmup, len(reviews))], *concurrency); err != nil {
			fmt.Fprintln(os.Stderr, "warm-up:", err)
			os.Exit(1)
		}
	}
	cpu := cpuSeconds()
	started := time.Now()
	var latencies []float64
	if *mode == "open" {
		latencies, err = openLoop(client, *url, reviews, *concurrency, *rate)
	} else {
		latencies, err = closedLoop(client, *url, reviews, *concurrency)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := result{Latencies: latencies, Seconds: time.Since(started).Seconds(), CPUSeconds: cpuSeconds() - cpu}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
