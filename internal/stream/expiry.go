package stream

import "container/heap"

// expiryHeap orders the followers by their session's expiry: the Hub's one
// timer waits for the first. Its methods are called with hub.mu held.
type expiryHeap struct{ items []*follower }

func (h *expiryHeap) push(f *follower) { heap.Push((*expiryOrder)(h), f) }

func (h *expiryHeap) pop() *follower { return heap.Pop((*expiryOrder)(h)).(*follower) }

// remove takes f out, if it is in.
func (h *expiryHeap) remove(f *follower) {
	if f.heapIndex >= 0 {
		heap.Remove((*expiryOrder)(h), f.heapIndex)
	}
}

// expiryOrder is expiryHeap as a heap.Interface.
type expiryOrder expiryHeap

func (o *expiryOrder) Len() int { return len(o.items) }
func (o *expiryOrder) Less(i, j int) bool {
	return o.items[i].claims.Expiry < o.items[j].claims.Expiry
}
func (o *expiryOrder) Swap(i, j int) {
	o.items[i], o.items[j] = o.items[j], o.items[i]
	o.items[i].heapIndex, o.items[j].heapIndex = i, j
}
func (o *expiryOrder) Push(x any) {
	f := x.(*follower)
	f.heapIndex = len(o.items)
	o.items = append(o.items, f)
}
func (o *expiryOrder) Pop() any {
	n := len(o.items) - 1
	f := o.items[n]
	o.items[n], o.items = nil, o.items[:n]
	f.heapIndex = -1
	return f
}
