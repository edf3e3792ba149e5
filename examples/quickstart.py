"""A first look at graphc: PyTorch code with the import changed, then its IR."""
import graphc as torch

t = torch.tensor([[1, 2], [3, 4]])
print("t =", t, "| shape", t.shape, "| dtype", t.dtype, "| device", t.device)
print("t @ t =", torch.matmul(t, t))

x = torch.tensor([2.0], requires_grad=True)
z = (x * 3) ** 2
print("The recorded graph behind z:")
print(torch.dump_ir(z))
print("\nThe gradient graph that backward() runs:")
print(torch.dump_ir(z, stage="grad"))
z.backward()
print("\nz =", z, "| dz/dx =", x.grad, "| grad_fn:", z.grad_fn.name())

# a tiny regression fitted with eager autograd
torch.manual_seed(0)
X = torch.randn(64, 3)
w_true = torch.tensor([[1.5], [-2.0], [0.5]])
y = X @ w_true + 0.1
w = torch.zeros(3, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for step in range(200):
    loss = ((X @ w + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        b -= 0.1 * b.grad
    w.grad = None
    b.grad = None
print(f"\nfitted w = {w.detach().reshape(-1).tolist()}, b = {b.item():.3f}, loss = {loss.item():.2e}")
