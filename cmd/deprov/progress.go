package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// progressBar draws "label [#####.....] done/total" on a terminal, over
// itself; on anything else (a pipe, a file) it draws nothing, so scripts
// read only the command's result.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	on    bool
	drawn bool
}

func newProgress(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, on: isTerminal(w)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update redraws the bar; it is safe from any goroutine.
func (p *progressBar) update(done, total int) {
	if p == nil || !p.on || total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	const width = 30
	n := min(width, width*done/total)
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
	p.drawn = true
}

// done ends the bar's line.
func (p *progressBar) done() {
	if p == nil || !p.drawn {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w)
	p.drawn = false
}
