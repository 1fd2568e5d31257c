#include <stdio.h>
int main(void) { puts("vapd"); return 0; }
