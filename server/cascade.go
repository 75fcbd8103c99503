package server

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Cascade scopes, most specific first.
const (
	ScopeUser       = "user"
	ScopeContext    = "context"
	ScopeContextSet = "context_set"
	ScopeServer     = "server"
	scopeDefault    = "default"
)

// ErrCascade is wrapped by invalid cascade changes.
var ErrCascade = errors.New("cascade")

// CascadeDecision says whether sockets are enabled for a user and which
// scope decided it.
type CascadeDecision struct {
	Enabled bool   `json:"enabled"`
	Scope   string `json:"scope"`  // user, context, context_set, server or default
	Source  string `json:"source"` // "config" or "override" (set through the admin API)
	Name    string `json:"name,omitempty"`
}

// CascadeChange sets or (Enabled nil) clears an override at one scope.
type CascadeChange struct {
	Scope      string `json:"scope"`
	ContextSet string `json:"context_set,omitempty"`
	Context    string `json:"context,omitempty"`
	User       string `json:"user,omitempty"`
	Enabled    *bool  `json:"enabled"`
}

// cascade holds two layers: the config file's and the overrides set
// through the admin API. At each scope an override beats the file; a
// reload replaces only the file layer.
type cascade struct {
	mu       sync.RWMutex
	file     cascadeLayer
	override cascadeLayer
	sets     []contextSet // membership and order, from the file
	setAttr  string
}

type cascadeLayer struct {
	server   *bool
	sets     map[string]bool
	contexts map[string]bool
	users    map[userKey]bool
}

type contextSet struct {
	name     string
	contexts map[string]bool
}

func newLayer() cascadeLayer {
	return cascadeLayer{sets: map[string]bool{}, contexts: map[string]bool{}, users: map[userKey]bool{}}
}

func newCascade(cfg CascadeConfig) *cascade {
	c := &cascade{override: newLayer()}
	c.load(cfg)
	return c
}

// load replaces the file layer.
func (c *cascade) load(cfg CascadeConfig) {
	file := newLayer()
	file.server = cfg.Enabled
	var sets []contextSet
	for _, s := range cfg.ContextSets {
		cs := contextSet{name: s.Name, contexts: map[string]bool{}}
		for _, ctx := range s.Contexts {
			cs.contexts[ctx] = true
		}
		sets = append(sets, cs)
		if s.Enabled != nil {
			file.sets[s.Name] = *s.Enabled
		}
	}
	for ctx, cc := range cfg.Contexts {
		if cc.Enabled != nil {
			file.contexts[ctx] = *cc.Enabled
		}
		for user, v := range cc.Users {
			file.users[userKey{ctx, user}] = v
		}
	}
	c.mu.Lock()
	c.file, c.sets, c.setAttr = file, sets, cfg.ContextSetAttribute
	c.mu.Unlock()
}

// decide evaluates the cascade for a user; attrSets are the context sets
// named by the session's attribute.
func (c *cascade) decide(context, user string, attrSets []string) CascadeDecision {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k := userKey{context, user}
	for _, l := range []struct {
		layer  *cascadeLayer
		source string
	}{{&c.override, "override"}, {&c.file, "config"}} {
		if v, ok := l.layer.users[k]; ok {
			return CascadeDecision{v, ScopeUser, l.source, ""}
		}
	}
	for _, l := range []struct {
		layer  *cascadeLayer
		source string
	}{{&c.override, "override"}, {&c.file, "config"}} {
		if v, ok := l.layer.contexts[context]; ok {
			return CascadeDecision{v, ScopeContext, l.source, ""}
		}
	}
	// Context sets: config order first, then sets known only from the
	// session attribute, in the attribute's order.
	for _, name := range c.setsOf(context, attrSets) {
		if v, ok := c.override.sets[name]; ok {
			return CascadeDecision{v, ScopeContextSet, "override", name}
		}
		if v, ok := c.file.sets[name]; ok {
			return CascadeDecision{v, ScopeContextSet, "config", name}
		}
	}
	if c.override.server != nil {
		return CascadeDecision{*c.override.server, ScopeServer, "override", ""}
	}
	if c.file.server != nil {
		return CascadeDecision{*c.file.server, ScopeServer, "config", ""}
	}
	return CascadeDecision{true, scopeDefault, "config", ""}
}

func (c *cascade) setsOf(context string, attrSets []string) []string {
	var out []string
	for _, s := range c.sets {
		if s.contexts[context] || contains(attrSets, s.name) {
			out = append(out, s.name)
		}
	}
	for _, a := range attrSets {
		if !contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// apply sets or clears an override.
func (c *cascade) apply(ch CascadeChange) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := &c.override
	switch ch.Scope {
	case ScopeServer:
		o.server = ch.Enabled
	case ScopeContextSet:
		if ch.ContextSet == "" {
			return fmt.Errorf("%w: context_set scope needs context_set", ErrCascade)
		}
		setOrClear(o.sets, ch.ContextSet, ch.Enabled)
	case ScopeContext:
		if ch.Context == "" {
			return fmt.Errorf("%w: context scope needs context", ErrCascade)
		}
		setOrClear(o.contexts, ch.Context, ch.Enabled)
	case ScopeUser:
		if ch.Context == "" || ch.User == "" {
			return fmt.Errorf("%w: user scope needs context and user", ErrCascade)
		}
		setOrClear(o.users, userKey{ch.Context, ch.User}, ch.Enabled)
	default:
		return fmt.Errorf("%w: scope %q is not one of user, context, context_set, server", ErrCascade, ch.Scope)
	}
	return nil
}

func setOrClear[K comparable](m map[K]bool, k K, v *bool) {
	if v == nil {
		delete(m, k)
	} else {
		m[k] = *v
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func splitComma(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
