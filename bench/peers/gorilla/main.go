// A small Go server of the wserver compat API, written the way Go users write one
// with gorilla/websocket: the "what users replace" peer of bench/run.sh.
//
//	GET  /ws    WebSocket; the client's first text frame {"token":"<user>","event":"<event>"}
//	            registers it under (user, event). {"op":"ping",...} is answered with
//	            {"op":"pong",...} so herald-bench can confirm registration in order.
//	POST /push  {"userId","event","message"} -> 200 "message sent to N clients"
//
// One goroutine pair per connection (readPump + writePump, a buffered send channel),
// a server ping every -ping-interval (Herald's default 25 s), a write deadline, and
// a slow consumer (full send channel) is dropped, as in gorilla's chat example.
// Only listens on loopback. Standard library + gorilla/websocket only.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

type key struct{ user, event string }

type client struct {
	conn *websocket.Conn
	send chan []byte
	k    key
	reg  bool
}

type hub struct {
	mu      sync.RWMutex
	clients map[key]map[*client]struct{}
}

func (h *hub) add(c *client) {
	h.mu.Lock()
	m := h.clients[c.k]
	if m == nil {
		m = make(map[*client]struct{})
		h.clients[c.k] = m
	}
	m[c] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	if m := h.clients[c.k]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(h.clients, c.k)
		}
	}
	h.mu.Unlock()
}

// push queues msg to every client of k and returns how many took it.
func (h *hub) push(k key, msg []byte) int {
	n := 0
	h.mu.RLock()
	for c := range h.clients[k] {
		select {
		case c.send <- msg:
			n++
		default: // slow consumer: close it, the read pump unregisters it
			c.conn.Close()
		}
	}
	h.mu.RUnlock()
	return n
}

var (
	pingInterval = flag.Duration("ping-interval", 25*time.Second, "server ping interval")
	writeWait    = 10 * time.Second
	upgrader     = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
)

func (h *hub) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{conn: conn, send: make(chan []byte, 256)}
	go c.writePump()
	c.readPump(h)
}

func (c *client) readPump(h *hub) {
	defer func() {
		if c.reg {
			h.remove(c)
		}
		close(c.send)
		c.conn.Close()
	}()
	c.conn.SetReadLimit(64 * 1024)
	pongWait := *pingInterval * 2
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { c.conn.SetReadDeadline(time.Now().Add(pongWait)); return nil })
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(pongWait))
		var f struct {
			Token string          `json:"token"`
			Event string          `json:"event"`
			Op    string          `json:"op"`
			ID    json.RawMessage `json:"id"`
		}
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch {
		case f.Op == "ping":
			reply := `{"op":"pong"}`
			if len(f.ID) > 0 {
				reply = `{"op":"pong","id":` + string(f.ID) + `}`
			}
			select {
			case c.send <- []byte(reply):
			default:
				return
			}
		case f.Token != "" && !c.reg:
			c.k = key{f.Token, f.Event}
			c.reg = true
			h.add(c)
		}
	}
}

func (c *client) writePump() {
	ticker := time.NewTicker(*pingInterval)
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case msg, ok := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				c.conn.WriteMessage(websocket.CloseMessage, []byte{})
				return
			}
			if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return
			}
		case <-ticker.C:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

func (h *hub) servePush(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var p struct {
		UserID  string `json:"userId"`
		Event   string `json:"event"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&p); err != nil || p.UserID == "" {
		http.Error(w, "bad push body", http.StatusBadRequest)
		return
	}
	n := h.push(key{p.UserID, p.Event}, []byte(p.Message))
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "message sent to %d clients", n)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "loopback address:port")
	flag.Parse()
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || !(strings.HasPrefix(host, "127.") || host == "::1" || host == "localhost") {
		log.Fatalf("refusing non-loopback listen address %q", *listen)
	}
	h := &hub{clients: make(map[key]map[*client]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", h.serveWS)
	mux.HandleFunc("/push", h.servePush)
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	log.Fatal(http.ListenAndServe(*listen, mux))
}
